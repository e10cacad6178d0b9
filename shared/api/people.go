package api

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// StudentView is one student of GET /api/v1/courses/{id}/students: the
// aggregates of every project of the course they work in, summed; active
// days are the distinct days over all of them. Staff, bots and commit
// identities no member matches are not students (see the identities
// route for the last).
type StudentView struct {
	Key             string           `json:"key"`
	UserID          int64            `json:"user_id"`
	Name            string           `json:"name"`
	Username        string           `json:"username"`
	TeamID          string           `json:"team_id"` // of the first project
	TeamName        string           `json:"team_name"`
	Commits         int              `json:"commits"`
	Additions       int              `json:"additions"`
	Deletions       int              `json:"deletions"`
	MRsOpened       int              `json:"mrs_opened"`
	MRsMerged       int              `json:"mrs_merged"`
	ReviewsGiven    int              `json:"reviews_given"`
	ReviewsReceived int              `json:"reviews_received"`
	ApprovalsGiven  int              `json:"approvals_given"`
	NotesOnOthers   int              `json:"notes_on_others"`
	IssuesOpened    int              `json:"issues_opened"`
	IssuesClosed    int              `json:"issues_closed"`
	ActiveDays      int              `json:"active_days"`
	FirstActivity   *time.Time       `json:"first_activity"`
	LastActivity    *time.Time       `json:"last_activity"`
	Member          bool             `json:"member"`
	Projects        []StudentProject `json:"projects"`
	days            map[string]bool
}

// StudentProject is where a student works.
type StudentProject struct {
	ProjectID int64  `json:"project_id"`
	TeamID    string `json:"team_id"`
	TeamName  string `json:"team_name"`
}

// coursePage reads what a paged listing of a course's partition starts
// with: the course (404 when unknown), its last write, the page size, and
// a cursor checked to be this listing's.
func (s *Server) coursePage(r *http.Request) (gitpulse.Course, time.Time, int, error) {
	c, updated, err := s.course(r)
	if err != nil {
		return c, updated, 0, err
	}
	limit, err := limitParam(r.URL.Query())
	if err != nil {
		return c, updated, 0, err
	}
	return c, updated, limit, checkCursor(r, store.CoursePK(c.ID))
}

func (s *Server) listStudents(w http.ResponseWriter, r *http.Request) error {
	c, updated, limit, err := s.coursePage(r)
	if err != nil {
		return err
	}
	asCSV := wantsCSV(r)
	if fresh(w, r, updated, representation(asCSV)...) {
		return nil
	}
	pq := store.PageQuery{Listing: listing(r), PK: store.CoursePK(c.ID), Prefix: "STUDENT#", Cursor: r.URL.Query().Get("cursor")}
	if asCSV {
		// The whole listing from the cursor on, page by page (one Query
		// each): a spreadsheet wants every row.
		var all []StudentView
		err := eachPage(r, pq, limit, func(p store.Page) error {
			rows, err := decode[gpsync.StudentRow](p.Items)
			all = append(all, students(rows)...)
			return err
		}, s.studentPage)
		if err != nil {
			return err
		}
		return writeCSV(w, studentsCSV(all))
	}
	p, err := s.studentPage(r, pq, limit)
	if err != nil {
		return err
	}
	rows, err := decode[gpsync.StudentRow](p.Items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listBody[StudentView]{Items: students(rows), NextCursor: p.Next})
	return nil
}

// studentPage is one page of students: one Query, a student's rows
// never split over two pages.
func (s *Server) studentPage(r *http.Request, pq store.PageQuery, limit int) (store.Page, error) {
	return s.deps.Store.GroupPage(r.Context(), pq, limit, 3, groupOf)
}

// groupOf is the person a per-project row's sort key belongs to
// (STUDENT#<sort name>#<project>, UNRESOLVED#<e-mail>#<project>).
func groupOf(sk string) string {
	i := strings.LastIndexByte(sk, '#')
	return sk[:i]
}

// students merges consecutive rows of the same person (rows are sorted
// by name, then key, then project).
func students(rows []gpsync.StudentRow) []StudentView {
	out := []StudentView{}
	for _, row := range rows {
		proj := StudentProject{ProjectID: row.ProjectID, TeamID: row.TeamID, TeamName: row.TeamName}
		n := len(out)
		if n == 0 || out[n-1].Key != row.Key {
			out = append(out, StudentView{Key: row.Key, UserID: row.UserID, Name: row.Name, Username: row.Username,
				TeamID: row.TeamID, TeamName: row.TeamName, Projects: []StudentProject{}, days: map[string]bool{}})
			n++
		}
		v := &out[n-1]
		v.Projects = append(v.Projects, proj)
		ps := row.PersonStats
		v.Member = v.Member || ps.Member
		v.Commits += ps.Commits
		v.Additions += ps.Additions
		v.Deletions += ps.Deletions
		v.MRsOpened += ps.MRsOpened
		v.MRsMerged += ps.MRsMerged
		v.ReviewsGiven += ps.Reviews
		v.ReviewsReceived += ps.ReviewsReceived
		v.ApprovalsGiven += ps.Approvals
		v.NotesOnOthers += ps.NotesOnOthers
		v.IssuesOpened += ps.IssuesOpened
		v.IssuesClosed += ps.IssuesClosed
		for _, d := range ps.Days {
			v.days[d] = true
		}
		// A row written before days were kept: at least its own count.
		v.ActiveDays = max(len(v.days), v.ActiveDays, ps.ActiveDays)
		if ps.FirstActivity != nil && (v.FirstActivity == nil || ps.FirstActivity.Before(*v.FirstActivity)) {
			t := ps.FirstActivity.UTC()
			v.FirstActivity = &t
		}
		if ps.LastActivity != nil && (v.LastActivity == nil || ps.LastActivity.After(*v.LastActivity)) {
			t := ps.LastActivity.UTC()
			v.LastActivity = &t
		}
	}
	return out
}

// IdentityView is one commit identity of GET
// /api/v1/courses/{id}/identities: an author e-mail no member matched,
// with its commits over the course's projects.
type IdentityView struct {
	Email        string           `json:"email"`
	Name         string           `json:"name"`
	Commits      int              `json:"commits"`
	Additions    int              `json:"additions"`
	Deletions    int              `json:"deletions"`
	LastActivity *time.Time       `json:"last_activity"`
	Projects     []StudentProject `json:"projects"`
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) error {
	c, updated, limit, err := s.coursePage(r)
	if err != nil {
		return err
	}
	if fresh(w, r, updated) {
		return nil
	}
	p, err := s.deps.Store.GroupPage(r.Context(), store.PageQuery{Listing: listing(r), PK: store.CoursePK(c.ID), Prefix: "UNRESOLVED#", Cursor: r.URL.Query().Get("cursor")},
		limit, 3, groupOf)
	if err != nil {
		return err
	}
	rows, err := decode[gpsync.UnresolvedRow](p.Items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listBody[IdentityView]{Items: identities(rows), NextCursor: p.Next})
	return nil
}

func identities(rows []gpsync.UnresolvedRow) []IdentityView {
	out := []IdentityView{}
	for _, row := range rows {
		n := len(out)
		if n == 0 || out[n-1].Email != row.Email {
			out = append(out, IdentityView{Email: row.Email, Name: row.Name, Projects: []StudentProject{}})
			n++
		}
		v := &out[n-1]
		v.Commits += row.Commits
		v.Additions += row.Additions
		v.Deletions += row.Deletions
		if row.LastActivity != nil && (v.LastActivity == nil || row.LastActivity.After(*v.LastActivity)) {
			t := row.LastActivity.UTC()
			v.LastActivity = &t
		}
		v.Projects = append(v.Projects, StudentProject{ProjectID: row.ProjectID, TeamID: row.TeamID, TeamName: row.TeamName})
	}
	return out
}

// The e-mail of an identity mapping, as the OpenAPI document states it
// (MapIdentityRequest.email; TestIdentitySchemaIsTheHandlers): what Git
// records as an author e-mail, without the whitespace and '#' that cannot
// be part of one (the store's keys use '#'). It is matched without case.
const (
	identityEmailMaxLength = 320
	identityEmailPattern   = `^[^\t\n\v\f\r #]{1,320}$`
)

var identityEmailRE = regexp.MustCompile(identityEmailPattern)

// MapIdentityBody is POST /api/v1/courses/{id}/identities.
type MapIdentityBody struct {
	Email  string `json:"email"`
	UserID int64  `json:"user_id"`
}

// MappedIdentity is the answer to POST /api/v1/courses/{id}/identities.
type MappedIdentity struct {
	Mapping    gpsync.IdentityMapping `json:"mapping"`
	SyncQueued bool                   `json:"sync_queued"`
}

// mapIdentity records that an author e-mail is a member's. The identity
// must be one the course's commits show (listed unresolved, or mapped
// before), and the user a member of a project where it shows. The
// aggregates follow after the next sync (queued now): stored commits and
// future ones count as the member's. Repeating the call is safe.
func (s *Server) mapIdentity(w http.ResponseWriter, r *http.Request) error {
	c, err := s.courseRecord(r)
	if err != nil {
		return err
	}
	var body MapIdentityBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if !identityEmailRE.MatchString(body.Email) {
		return gitpulse.Errorf(gitpulse.EINVALID, "email: required, a commit author e-mail as the identities listing shows it: 1 to %d characters, no spaces and no '#', got %q", identityEmailMaxLength, clip(body.Email))
	}
	email := strings.ToLower(body.Email)
	if body.UserID <= 0 {
		return gitpulse.Errorf(gitpulse.EINVALID, "user_id: required, the GitLab user id of a member (a positive integer)")
	}
	ctx, cpk := r.Context(), store.CoursePK(c.ID)
	rows, err := store.All[gpsync.UnresolvedRow](ctx, s.deps.Store, cpk, "UNRESOLVED#"+email+"#")
	if err != nil {
		return err
	}
	var projects []int64
	for _, row := range rows {
		projects = append(projects, row.ProjectID)
	}
	var prev gpsync.IdentityMapping
	mpk := gpsync.IdentityPK(c.ID)
	if err := s.deps.Store.Get(ctx, mpk, gpsync.IdentitySK(email), &prev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	projects = append(projects, prev.ProjectIDs...)
	slices.Sort(projects)
	projects = slices.Compact(projects)
	if len(projects) == 0 {
		return gitpulse.Errorf(gitpulse.ENOTFOUND, "email: no commit of the course has the author e-mail %q (GET .../identities lists those no member matches)", clip(email))
	}
	var member gitpulse.Member
	found := false
	for _, pid := range projects {
		err := s.deps.Store.Get(ctx, store.ProjectPK(pid), "MEMBER#"+strconv.FormatInt(body.UserID, 10), &member)
		if err == nil {
			found = true
			break
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if !found {
		return gitpulse.Errorf(gitpulse.ENOTFOUND, "user_id: no member %d in a project where %q commits (GET .../students lists the members)", body.UserID, clip(email))
	}
	by := ""
	if k, ok := apikeys.FromContext(ctx); ok {
		by = k.Name
	}
	now := s.deps.Now().UTC()
	m := gpsync.IdentityMapping{Email: email, UserID: member.UserID, Username: member.Username, Name: member.Name, MappedAt: now, MappedBy: by, ProjectIDs: projects}
	if err := s.deps.Store.Put(ctx, store.Item{PK: mpk, SK: gpsync.IdentitySK(email), Kind: "identity_mapping", Value: m}); err != nil {
		return err
	}
	if err := s.deps.Store.Put(ctx, store.Item{PK: mpk, SK: gpsync.IdentitiesSK, Kind: "identities_version", Value: gpsync.IdentitiesVersion{ChangedAt: now}}); err != nil {
		return err
	}
	// The scheduled sync applies it anyway; queue one now.
	_, qerr := s.queuePlan(r, c.ID)
	writeJSON(w, http.StatusOK, MappedIdentity{Mapping: m, SyncQueued: qerr == nil})
	return nil
}

// sortedByName orders people as the students listing does.
func sortedByName[T any](v []T, name, key func(T) string) {
	sort.SliceStable(v, func(i, j int) bool {
		return gpsync.SortName(name(v[i]), key(v[i])) < gpsync.SortName(name(v[j]), key(v[j]))
	})
}
