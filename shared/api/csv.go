package api

import (
	"bytes"
	"encoding/csv"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// CSV answers: the students listing and a team's share, for grading in a
// spreadsheet. Asked for with Accept: text/csv, under the same key and
// role as the JSON. The header row is the JSON field names; the body is
// UTF-8 with a byte order mark (so that spreadsheets read names right);
// a text cell that a spreadsheet would take for a formula (starting with
// = + - @, tab or CR) is prefixed with a single quote.

// maxCSVPages bounds the pages a CSV answer reads.
const maxCSVPages = 200

// wantsCSV reports whether the client asks for CSV (Accept: text/csv,
// ahead of JSON when both are named).
func wantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

// representation is what a CSV answer's ETag varies with (a JSON
// answer's keeps the route's own).
func representation(asCSV bool) []string {
	if asCSV {
		return []string{"csv"}
	}
	return nil
}

// eachPage reads a listing from pq's cursor to its end, a page (one
// Query) at a time.
func eachPage(r *http.Request, pq store.PageQuery, limit int, fn func(store.Page) error,
	read func(*http.Request, store.PageQuery, int) (store.Page, error)) error {
	if r.URL.Query().Get("limit") == "" {
		limit = maxLimit
	}
	for range maxCSVPages {
		p, err := read(r, pq, limit)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		pq.Cursor = p.Next
	}
	return gitpulse.Errorf(gitpulse.ETOOLARGE, "the CSV would be longer than %d pages; page through the JSON instead", maxCSVPages)
}

// writeCSV answers rows (the first is the header).
func writeCSV(w http.ResponseWriter, rows [][]string) error {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	cw := csv.NewWriter(&buf)
	for _, row := range rows {
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Add("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// cell is a text cell a spreadsheet shows as text.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func num(n int) string { return strconv.Itoa(n) }

func frac(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

func when(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// StudentCSVHeader is the students CSV's header row.
var StudentCSVHeader = []string{"key", "user_id", "name", "username", "team_id", "team_name", "commits", "additions", "deletions",
	"mrs_opened", "mrs_merged", "reviews_given", "reviews_received", "approvals_given", "notes_on_others", "issues_opened",
	"issues_closed", "active_days", "first_activity", "last_activity"}

func studentsCSV(students []StudentView) [][]string {
	rows := [][]string{StudentCSVHeader}
	for _, s := range students {
		rows = append(rows, []string{cell(s.Key), strconv.FormatInt(s.UserID, 10), cell(s.Name), cell(s.Username), cell(s.TeamID), cell(s.TeamName),
			num(s.Commits), num(s.Additions), num(s.Deletions), num(s.MRsOpened), num(s.MRsMerged), num(s.ReviewsGiven),
			num(s.ReviewsReceived), num(s.ApprovalsGiven), num(s.NotesOnOthers), num(s.IssuesOpened), num(s.IssuesClosed),
			num(s.ActiveDays), when(s.FirstActivity), when(s.LastActivity)})
	}
	return rows
}

// ShareCSVHeader is the share CSV's header row.
var ShareCSVHeader = []string{"key", "name", "commits", "commits_share", "lines", "lines_share", "mrs", "mrs_share", "reviews", "reviews_share"}

func shareCSV(students []ShareRow) [][]string {
	rows := [][]string{ShareCSVHeader}
	for _, s := range students {
		rows = append(rows, []string{cell(s.Key), cell(s.Name), num(s.Commits), frac(s.CommitsShare), num(s.Lines), frac(s.LinesShare),
			num(s.MRs), frac(s.MRsShare), num(s.Reviews), frac(s.ReviewsShare)})
	}
	return rows
}
