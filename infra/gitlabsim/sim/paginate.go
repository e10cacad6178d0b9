package sim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Offset pagination limits, as in GitLab.
const (
	defaultPerPage = 20
	maxPerPage     = 100
	// maxCountedItems is the list size above which GitLab stops counting
	// and leaves out X-Total, X-Total-Pages and rel="last".
	maxCountedItems = 10000
)

// writePage answers a list route with the page of items the request asks
// for, with GitLab's offset pagination headers, or 400 for a malformed
// page or per_page.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T) {
	lo, hi, err := paginate(w, r, len(items))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	page := items[lo:hi]
	if page == nil {
		page = []T{}
	}
	writeJSON(w, http.StatusOK, page)
}

// paginate reads page (default 1) and per_page (default 20, capped at 100)
// from the request, writes GitLab's pagination headers for a list of total
// items and returns the bounds of the requested page. Values below 1 fall
// back to the defaults; a value that is not an integer is an error
// ("page is invalid", Grape's wording) and no headers are written then.
func paginate(w http.ResponseWriter, r *http.Request, total int) (lo, hi int, err error) {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return 0, 0, err
	}
	perPage, err := intParam(r, "per_page", defaultPerPage)
	if err != nil {
		return 0, 0, err
	}
	perPage = min(perPage, maxPerPage)

	counted := total <= maxCountedItems
	totalPages := max(1, (total+perPage-1)/perPage)
	// Like Kaminari, a page past the end has neither a next nor a previous page.
	var prev, next int
	if page > 1 && page <= totalPages {
		prev = page - 1
	}
	if page < totalPages {
		next = page + 1
	}

	var links []string
	link := func(p int, rel string) {
		links = append(links, fmt.Sprintf(`<%s>; rel="%s"`, pageURL(r, p, perPage), rel))
	}
	if prev > 0 {
		link(prev, "prev")
	}
	if next > 0 {
		link(next, "next")
	}
	link(1, "first")
	if counted {
		link(totalPages, "last")
	}

	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Next-Page", pageNumber(next))
	h.Set("X-Prev-Page", pageNumber(prev))
	h.Set("Link", strings.Join(links, ", "))
	if counted {
		h.Set("X-Total", strconv.Itoa(total))
		h.Set("X-Total-Pages", strconv.Itoa(totalPages))
	}

	lo = min(total, (page-1)*perPage)
	return lo, min(total, lo+perPage), nil
}

// paginateWithoutCount is paginate for the lists GitLab pages without
// counting them (paginate(..., without_count: true), as the repository
// commits list): no X-Total, X-Total-Pages or rel="last", and a next page
// whenever this page is full, even when nothing follows (the next page is
// then empty and has none). total is the number of items the list holds.
func paginateWithoutCount(w http.ResponseWriter, r *http.Request, total int) (lo, hi int, err error) {
	page, err := intParam(r, "page", 1)
	if err != nil {
		return 0, 0, err
	}
	perPage, err := intParam(r, "per_page", defaultPerPage)
	if err != nil {
		return 0, 0, err
	}
	perPage = min(perPage, maxPerPage)
	lo = min(total, (page-1)*perPage)
	hi = min(total, lo+perPage)
	var prev, next int
	if page > 1 {
		prev = page - 1
	}
	if hi-lo == perPage {
		next = page + 1
	}
	var links []string
	link := func(p int, rel string) {
		links = append(links, fmt.Sprintf(`<%s>; rel="%s"`, pageURL(r, p, perPage), rel))
	}
	if prev > 0 {
		link(prev, "prev")
	}
	if next > 0 {
		link(next, "next")
	}
	link(1, "first")
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Next-Page", pageNumber(next))
	h.Set("X-Prev-Page", pageNumber(prev))
	h.Set("Link", strings.Join(links, ", "))
	return lo, hi, nil
}

// intParam reads a positive integer query parameter, or def when it is
// missing or below 1.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s is invalid", name)
	}
	if n < 1 {
		return def, nil
	}
	return n, nil
}

// pageNumber formats a page number for X-Next-Page and X-Prev-Page: empty
// for none.
func pageNumber(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

// pageURL is the request URL with page and per_page replaced; the other
// query parameters stay, sorted by name as Rails' to_query sorts them.
func pageURL(r *http.Request, page, perPage int) string {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	u := url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: q.Encode()}
	return u.String()
}

// baseURL is the scheme and host the request was sent to.
func baseURL(r *http.Request) string {
	return scheme(r) + "://" + r.Host
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
