package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// listBody is every list answer.
type listBody[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// project reads the project of the {id} path parameter (one GetItem).
func (s *Server) project(r *http.Request) (int64, gpsync.ProjectInfo, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, gpsync.ProjectInfo{}, err
	}
	var info gpsync.ProjectInfo
	if err := s.deps.Store.Get(r.Context(), store.ProjectPK(id), "INFO", &info); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return id, info, gitpulse.Errorf(gitpulse.ENOTFOUND, "project %d: not known to GitPulse (not in a course, or not synced yet)", id)
		}
		return id, info, err
	}
	return id, info, nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) error {
	_, info, err := s.project(r)
	if err != nil {
		return err
	}
	if fresh(w, r, info.UpdatedAt) {
		return nil
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// filter builds a page's FilterExpression from equality conditions.
type filter struct {
	conds  []string
	names  map[string]string
	values map[string]ddbtypes.AttributeValue
}

// eq adds "attribute path = value" (path elements joined with dots), or
// "any of paths = value" when more than one path is given.
func (f *filter) eq(value string, paths ...string) {
	if value == "" {
		return
	}
	if f.names == nil {
		f.names, f.values = map[string]string{}, map[string]ddbtypes.AttributeValue{}
	}
	v := ":v" + strconv.Itoa(len(f.values))
	f.values[v] = &ddbtypes.AttributeValueMemberS{Value: value}
	var alts []string
	for _, p := range paths {
		var ref string
		for i, part := range splitPath(p) {
			n := "#n" + strconv.Itoa(len(f.names))
			f.names[n] = part
			if i > 0 {
				ref += "."
			}
			ref += n
		}
		alts = append(alts, ref+" = "+v)
	}
	cond := alts[0]
	for _, a := range alts[1:] {
		cond += " OR " + a
	}
	if len(alts) > 1 {
		cond = "(" + cond + ")"
	}
	f.conds = append(f.conds, cond)
}

// contains adds "the list at path holds value" (nothing for "").
func (f *filter) contains(value, path string) {
	if value == "" {
		return
	}
	f.add(path, &ddbtypes.AttributeValueMemberS{Value: value}, func(ref, v string) string { return "contains(" + ref + ", " + v + ")" })
}

// is adds "the boolean at path is value" (an absent one is false).
func (f *filter) is(value bool, path string) {
	f.add(path, &ddbtypes.AttributeValueMemberBOOL{Value: true}, func(ref, v string) string {
		if value {
			return ref + " = " + v
		}
		return "(attribute_not_exists(" + ref + ") OR " + ref + " <> " + v + ")"
	})
}

// add names path and value and appends the condition cond makes of them.
func (f *filter) add(path string, value ddbtypes.AttributeValue, cond func(ref, v string) string) {
	if f.names == nil {
		f.names, f.values = map[string]string{}, map[string]ddbtypes.AttributeValue{}
	}
	v := ":v" + strconv.Itoa(len(f.values))
	f.values[v] = value
	n := "#n" + strconv.Itoa(len(f.names))
	f.names[n] = path
	f.conds = append(f.conds, cond(n, v))
}

func splitPath(p string) []string {
	var parts []string
	start := 0
	for i := range len(p) {
		if p[i] == '.' {
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return append(parts, p[start:])
}

func (f *filter) apply(q *store.PageQuery) {
	if len(f.conds) == 0 {
		return
	}
	q.Filter = f.conds[0]
	for _, c := range f.conds[1:] {
		q.Filter += " AND " + c
	}
	q.Names, q.Values = f.names, f.values
}

// projectList answers one page of one kind of a project's items: the
// project's INFO item (validators, 404), then exactly one Query.
func projectList[T any](s *Server, w http.ResponseWriter, r *http.Request, prefix string, byTime bool, f *filter) error {
	id, info, err := s.project(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	pq := store.PageQuery{Listing: listing(r), PK: store.ProjectPK(id), Prefix: prefix, Limit: int32(limit), Cursor: q.Get("cursor")}
	if byTime {
		if pq.From, pq.To, err = timeRangeParams(q); err != nil {
			return err
		}
		pq.UseTime = true
	}
	if f != nil {
		f.apply(&pq)
	}
	if err := checkCursor(r, pq.PK); err != nil {
		return err
	}
	if fresh(w, r, info.UpdatedAt) {
		return nil
	}
	return writePage[T](s, w, r, pq)
}

// writePage reads one page and answers it.
func writePage[T any](s *Server, w http.ResponseWriter, r *http.Request, pq store.PageQuery) error {
	p, err := s.deps.Store.Page(r.Context(), pq)
	if err != nil {
		return err
	}
	items, err := decode[T](p.Items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listBody[T]{Items: items, NextCursor: p.Next})
	return nil
}

func decode[T any](items []map[string]ddbtypes.AttributeValue) ([]T, error) {
	out := make([]T, 0, len(items))
	for _, item := range items {
		var v T
		if err := attributevalue.UnmarshalMap(item, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// listCommits lists a project's commits of every branch; branch keeps
// those read from that branch, on_default_branch=true those the default
// branch reaches (what was merged), false the others.
func (s *Server) listCommits(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	author, err := textParam(q, "author")
	if err != nil {
		return err
	}
	branch, err := textParam(q, "branch")
	if err != nil {
		return err
	}
	merged, err := enumParam(q, "on_default_branch", "true", "false")
	if err != nil {
		return err
	}
	f := &filter{}
	f.eq(author, "author_email", "author_name")
	f.contains(branch, "branches")
	if merged != "" {
		f.is(merged == "true", "on_default")
	}
	return projectList[gitpulse.Commit](s, w, r, "COMMIT", true, f)
}

func (s *Server) listMergeRequests(w http.ResponseWriter, r *http.Request) error {
	return byStateAndAuthor[gitpulse.MergeRequest](s, w, r, "MR", "opened", "merged", "closed", "locked")
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) error {
	return byStateAndAuthor[gitpulse.Issue](s, w, r, "ISSUE", "opened", "closed")
}

// byStateAndAuthor lists merge requests or issues, filtered by state (one
// of states) and author username.
func byStateAndAuthor[T any](s *Server, w http.ResponseWriter, r *http.Request, prefix string, states ...string) error {
	q := r.URL.Query()
	state, err := enumParam(q, "state", states...)
	if err != nil {
		return err
	}
	author, err := textParam(q, "author")
	if err != nil {
		return err
	}
	f := &filter{}
	f.eq(state, "state")
	f.eq(author, "author.username")
	return projectList[T](s, w, r, prefix, true, f)
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status, err := enumParam(q, "status", "created", "waiting_for_resource", "preparing", "pending", "running",
		"success", "failed", "canceled", "skipped", "manual", "scheduled")
	if err != nil {
		return err
	}
	ref, err := textParam(q, "ref")
	if err != nil {
		return err
	}
	f := &filter{}
	f.eq(status, "status")
	f.eq(ref, "ref")
	return projectList[gitpulse.Pipeline](s, w, r, "PIPELINE", true, f)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	return projectList[gitpulse.Member](s, w, r, "MEMBER#", false, nil)
}

// listContributors is the per-person aggregates sync keeps, bots left out.
func (s *Server) listContributors(w http.ResponseWriter, r *http.Request) error {
	f := &filter{conds: []string{"#bot = :nobot"}, names: map[string]string{"#bot": "bot"},
		values: map[string]ddbtypes.AttributeValue{":nobot": &ddbtypes.AttributeValueMemberBOOL{Value: false}}}
	return projectList[gpsync.PersonStats](s, w, r, "STATS#", false, f)
}
