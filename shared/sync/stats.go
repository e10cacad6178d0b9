package sync

import (
	"context"
	"strings"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// PersonStats is what one person did in one project.
type PersonStats struct {
	Key           string         `json:"key" dynamodbav:"key"` // "u<user id>" or "e<author e-mail>"
	UserID        int64          `json:"user_id,omitempty" dynamodbav:"user_id,omitempty"`
	Username      string         `json:"username,omitempty" dynamodbav:"username,omitempty"`
	Name          string         `json:"name" dynamodbav:"name"`
	Bot           bool           `json:"bot" dynamodbav:"bot"`
	Member        bool           `json:"member" dynamodbav:"member"`
	Commits       int            `json:"commits" dynamodbav:"commits"`
	Additions     int            `json:"additions" dynamodbav:"additions"`
	Deletions     int            `json:"deletions" dynamodbav:"deletions"`
	MRsOpened     int            `json:"mrs_opened" dynamodbav:"mrs_opened"`
	MRsMerged     int            `json:"mrs_merged" dynamodbav:"mrs_merged"`
	Reviews       int            `json:"reviews_given" dynamodbav:"reviews_given"` // others' MRs commented on
	NotesOnOthers int            `json:"notes_on_others" dynamodbav:"notes_on_others"`
	Approvals     int            `json:"approvals_given" dynamodbav:"approvals_given"`
	IssuesOpened  int            `json:"issues_opened" dynamodbav:"issues_opened"`
	IssuesClosed  int            `json:"issues_closed" dynamodbav:"issues_closed"`
	FirstActivity *time.Time     `json:"first_activity,omitempty" dynamodbav:"first_activity,omitempty"`
	LastActivity  *time.Time     `json:"last_activity,omitempty" dynamodbav:"last_activity,omitempty"`
	ActiveDays    int            `json:"active_days" dynamodbav:"active_days"`
	CommitsByDay  map[string]int `json:"commits_by_day,omitempty" dynamodbav:"commits_by_day,omitempty"`
	days          map[string]bool
}

// ProjectStats is a project's aggregate.
type ProjectStats struct {
	Members      int            `json:"members" dynamodbav:"members"` // people, bots left out
	Commits      int            `json:"commits" dynamodbav:"commits"`
	Additions    int            `json:"additions" dynamodbav:"additions"`
	Deletions    int            `json:"deletions" dynamodbav:"deletions"`
	MRsOpen      int            `json:"mrs_open" dynamodbav:"mrs_open"`
	MRsMerged    int            `json:"mrs_merged" dynamodbav:"mrs_merged"`
	MRsClosed    int            `json:"mrs_closed" dynamodbav:"mrs_closed"`
	Notes        int            `json:"notes" dynamodbav:"notes"`
	IssuesOpen   int            `json:"issues_open" dynamodbav:"issues_open"`
	IssuesClosed int            `json:"issues_closed" dynamodbav:"issues_closed"`
	Pipelines    map[string]int `json:"pipelines" dynamodbav:"pipelines"` // by status
	Running      int            `json:"pipelines_running" dynamodbav:"pipelines_running"`
	SuccessRate  float64        `json:"pipeline_success_rate" dynamodbav:"pipeline_success_rate"` // of finished pipelines
	LastActivity *time.Time     `json:"last_activity,omitempty" dynamodbav:"last_activity,omitempty"`
	CommitsByDay map[string]int `json:"commits_by_day,omitempty" dynamodbav:"commits_by_day,omitempty"`
}

// Aggregates computes a project's statistics from its items. It is a pure
// function of the stored items, so recomputing after any redelivery gives
// the same exact numbers.
type Aggregates struct {
	Project ProjectStats
	People  map[string]*PersonStats
}

type itemSet struct {
	members []gitpulse.Member
	commits []gitpulse.Commit
	mrs     []gitpulse.MergeRequest
	extras  []mrExtra
	notes   []gitpulse.Note
	issues  []gitpulse.Issue
	pipes   []gitpulse.Pipeline
}

// Compute builds the aggregates.
func (s *itemSet) Compute() Aggregates {
	agg := Aggregates{Project: ProjectStats{Pipelines: map[string]int{}, CommitsByDay: map[string]int{}}, People: map[string]*PersonStats{}}
	byUser := map[int64]*PersonStats{}
	byName := map[string]int64{}
	get := func(p gitpulse.Person) *PersonStats {
		if p.UserID == 0 {
			return nil
		}
		if ps, ok := byUser[p.UserID]; ok {
			return ps
		}
		ps := &PersonStats{Key: "u" + itoa(p.UserID), UserID: p.UserID, Username: p.Username, Name: p.Name, Bot: IsBot(p.Username), days: map[string]bool{}}
		byUser[p.UserID], agg.People[ps.Key] = ps, ps
		return ps
	}
	for _, m := range s.members {
		ps := get(gitpulse.Person{UserID: m.UserID, Username: m.Username, Name: m.Name})
		ps.Member, ps.Bot = true, m.Bot
		if !m.Bot {
			agg.Project.Members++
		}
		byName[strings.ToLower(m.Name)] = m.UserID
		byName[strings.ToLower(m.Username)] = m.UserID
	}
	touch := func(ps *PersonStats, at time.Time) {
		if ps == nil || at.IsZero() {
			return
		}
		if ps.FirstActivity == nil || at.Before(*ps.FirstActivity) {
			t := at
			ps.FirstActivity = &t
		}
		if ps.LastActivity == nil || at.After(*ps.LastActivity) {
			t := at
			ps.LastActivity = &t
		}
		ps.days[at.UTC().Format(time.DateOnly)] = true
		if agg.Project.LastActivity == nil || at.After(*agg.Project.LastActivity) {
			t := at
			agg.Project.LastActivity = &t
		}
	}
	for _, c := range s.commits {
		if c.Merge {
			continue // the merged commits are counted themselves
		}
		agg.Project.Commits++
		agg.Project.Additions += c.Additions
		agg.Project.Deletions += c.Deletions
		day := c.AuthoredAt.UTC().Format(time.DateOnly)
		agg.Project.CommitsByDay[day]++
		var ps *PersonStats
		if id, ok := byName[strings.ToLower(c.AuthorName)]; ok {
			ps = byUser[id]
		} else if id, ok := byName[strings.ToLower(strings.Split(c.AuthorEmail, "@")[0])]; ok {
			ps = byUser[id]
		} else {
			key := "e" + strings.ToLower(c.AuthorEmail)
			if ps = agg.People[key]; ps == nil {
				ps = &PersonStats{Key: key, Name: c.AuthorName, days: map[string]bool{}}
				agg.People[key] = ps
			}
		}
		ps.Commits++
		ps.Additions += c.Additions
		ps.Deletions += c.Deletions
		if ps.CommitsByDay == nil {
			ps.CommitsByDay = map[string]int{}
		}
		ps.CommitsByDay[day]++
		touch(ps, c.AuthoredAt)
	}
	for _, mr := range s.mrs {
		switch mr.State {
		case "merged":
			agg.Project.MRsMerged++
		case "closed":
			agg.Project.MRsClosed++
		default:
			agg.Project.MRsOpen++
		}
		a := get(mr.Author)
		if a != nil {
			a.MRsOpened++
			touch(a, mr.CreatedAt)
			if mr.State == "merged" {
				a.MRsMerged++
			}
		}
		if mr.MergedBy != nil && mr.MergedAt != nil {
			touch(get(*mr.MergedBy), *mr.MergedAt)
		}
	}
	for _, x := range s.extras {
		for _, p := range x.ApprovedBy {
			if ps := get(p); ps != nil {
				ps.Approvals++
			}
		}
	}
	reviewed := map[[2]int64]bool{}
	for _, n := range s.notes {
		if n.System {
			continue
		}
		agg.Project.Notes++
		ps := get(n.Author)
		if ps == nil {
			continue
		}
		touch(ps, n.CreatedAt)
		if n.Author.UserID != n.MRAuthorID {
			ps.NotesOnOthers++
			if k := [2]int64{n.Author.UserID, n.MRIID}; !reviewed[k] {
				reviewed[k] = true
				ps.Reviews++
			}
		}
	}
	for _, is := range s.issues {
		if is.State == "closed" {
			agg.Project.IssuesClosed++
		} else {
			agg.Project.IssuesOpen++
		}
		if ps := get(is.Author); ps != nil {
			ps.IssuesOpened++
			touch(ps, is.CreatedAt)
		}
		if is.ClosedBy != nil && is.State == "closed" {
			if ps := get(*is.ClosedBy); ps != nil {
				ps.IssuesClosed++
				if is.ClosedAt != nil {
					touch(ps, *is.ClosedAt)
				}
			}
		}
	}
	finished, succeeded := 0, 0
	for _, p := range s.pipes {
		agg.Project.Pipelines[p.Status]++
		if p.Running() {
			agg.Project.Running++
			continue
		}
		if p.Status == "success" || p.Status == "failed" || p.Status == "canceled" {
			finished++
			if p.Status == "success" {
				succeeded++
			}
		}
	}
	if finished > 0 {
		agg.Project.SuccessRate = float64(succeeded) / float64(finished)
	}
	for _, ps := range agg.People {
		ps.ActiveDays = len(ps.days)
	}
	return agg
}

// aggregate recomputes the project's statistics from its stored items,
// reading the partition once, a page at a time.
func (w *Worker) aggregate(ctx context.Context, r *run) error {
	if err := r.w.Flush(ctx); err != nil { // the items to count must be stored
		return err
	}
	ppk := store.ProjectPK(r.t.ProjectID)
	var set itemSet
	err := w.Store.Each(ctx, ppk, "", func(sk string, item map[string]ddbtypes.AttributeValue) error {
		var err error
		switch kind := item["kind"].(*ddbtypes.AttributeValueMemberS).Value; kind {
		case "member":
			v, e := unmarshal[gitpulse.Member](item)
			set.members, err = append(set.members, v), e
		case "commit":
			v, e := unmarshal[gitpulse.Commit](item)
			set.commits, err = append(set.commits, v), e
		case "merge_request":
			v, e := unmarshal[gitpulse.MergeRequest](item)
			set.mrs, err = append(set.mrs, v), e
		case "merge_request_extra":
			v, e := unmarshal[mrExtra](item)
			set.extras, err = append(set.extras, v), e
		case "note":
			v, e := unmarshal[gitpulse.Note](item)
			set.notes, err = append(set.notes, v), e
		case "issue":
			v, e := unmarshal[gitpulse.Issue](item)
			set.issues, err = append(set.issues, v), e
		case "pipeline":
			v, e := unmarshal[gitpulse.Pipeline](item)
			set.pipes, err = append(set.pipes, v), e
		}
		return err
	})
	if err != nil {
		return err
	}
	agg := set.Compute()
	r.state.RunningPipelines = agg.Project.Running
	if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "STATS", Kind: "project_stats", Value: agg.Project}); err != nil {
		return err
	}
	for _, k := range sortedKeys(agg.People) {
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "STATS#" + k, Kind: "person_stats", Value: agg.People[k]}); err != nil {
			return err
		}
	}
	return w.writeReadModel(ctx, r, agg)
}
