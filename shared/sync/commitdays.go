package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/store"
)

// Commit days keep a project's commit figures so that a task pays for
// the commits it read, not for the project's history:
//
//	PROJECT#<id>  CDAY#<day>  commit_day      every commit authored that (UTC) day, by SHA
//	PROJECT#<id>  CSUM#<day>  commit_summary  that day's commit groups (per author), and a fingerprint of its commits
//
// A task adds every commit it reads (stored already or not) to its day,
// by SHA, so adding one twice changes nothing; then it writes the day's
// record and summary, both before the task's state (see flushDays).
// Cursors move only after that, so a commit that reached the table before
// a failure is read again by the retry and added then: each day holds
// exactly the commits the project's cursors cover. The aggregate reads
// the summaries and skips the CDAY# and COMMIT# items (daysSkip).
//
// A project synced before commit days (state CommitDays false) is counted
// from its commit items, as before, until its next repository poll has
// read every branch again from the start (DaysRebuild) and filled them.

// dayCommit is what a day's record keeps of one commit.
type dayCommit struct {
	Name     string    `json:"n" dynamodbav:"n"`
	Email    string    `json:"e" dynamodbav:"e"`
	At       time.Time `json:"t" dynamodbav:"t"`
	Add      int       `json:"a,omitempty" dynamodbav:"a,omitempty"`
	Del      int       `json:"d,omitempty" dynamodbav:"d,omitempty"`
	Default  bool      `json:"m,omitempty" dynamodbav:"m,omitempty"`
	Merge    bool      `json:"x,omitempty" dynamodbav:"x,omitempty"`
	Branches []string  `json:"b,omitempty" dynamodbav:"b,omitempty"`
}

// commitDay is CDAY#<day>.
type commitDay struct {
	Day     string               `dynamodbav:"day"`
	Commits map[string]dayCommit `dynamodbav:"commits"`
}

// daySummary is CSUM#<day>: the day's non-merge commits grouped as the
// aggregate counts them, and Commits, a hash of the day's record, so
// that the summary (which the project's fingerprint covers) changes
// whenever one of its commits does.
type daySummary struct {
	Day     string        `dynamodbav:"day"`
	Groups  []commitGroup `dynamodbav:"groups"`
	Commits string        `dynamodbav:"commits"`
}

const (
	daySK     = "CDAY#"
	summarySK = "CSUM#"
	// daysSkip is the sort-key range of CDAY# and COMMIT# items, which
	// the aggregate does not read when the project has commit days.
	daysSkipFrom, daysSkipTo = "CDAY#", "COMMIT$"
	// maxDayItem keeps a day's record under DynamoDB's 400 KB item.
	maxDayItem = 350 << 10
)

// noteCommit adds a commit read from GitLab (as it will be stored) to the
// run's days.
func (r *run) noteCommit(c *gl.Commit, at time.Time, add, del int, merge, onDefault bool, branches []string) {
	if r.days == nil {
		r.days = map[string]map[string]dayCommit{}
	}
	day := at.UTC().Format(time.DateOnly)
	if r.days[day] == nil {
		r.days[day] = map[string]dayCommit{}
	}
	r.days[day][c.ID] = dayCommit{Name: c.AuthorName, Email: c.AuthorEmail, At: at.UTC(), Add: add, Del: del, Default: onDefault, Merge: merge, Branches: branches}
}

// flushDays merges the commits the run read into their stored days and
// puts each day's record and summary in the writer (compared: unchanged
// ones are not written). It runs before every write of the task's state.
// A day too big for one item turns commit days off for the project: its
// figures are counted from the commit items from then on.
func (w *Worker) flushDays(ctx context.Context, r *run) error {
	if len(r.days) == 0 {
		return nil
	}
	ppk := store.ProjectPK(r.t.ProjectID)
	days := sortedKeys(r.days)
	sks := make([]string, len(days))
	for i, d := range days {
		sks[i] = daySK + d
	}
	stored := map[string]commitDay{}
	if err := w.Store.GetMany(ctx, ppk, sks, func(sk string, item map[string]ddbtypes.AttributeValue) error {
		cd, err := unmarshal[commitDay](item)
		if err != nil {
			return fmt.Errorf("read %s: %w", sk, err)
		}
		stored[cd.Day] = cd
		return nil
	}); err != nil {
		return err
	}
	for _, d := range days {
		cd := stored[d]
		if cd.Commits == nil {
			cd = commitDay{Day: d, Commits: map[string]dayCommit{}}
		}
		for sha, c := range r.days[d] {
			if old, ok := cd.Commits[sha]; ok {
				// Reaching the default branch, and the branches a commit
				// was seen on, only ever grow.
				c.Default = c.Default || old.Default
				c.Branches = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(old.Branches), c.Branches...))))
			}
			cd.Commits[sha] = c
		}
		body, err := json.Marshal(cd.Commits)
		if err != nil {
			return fmt.Errorf("encode %s%s: %w", daySK, d, err)
		}
		if len(body) > maxDayItem {
			w.Logger.WarnContext(ctx, "a day's commits are too many for one item: the project's commit figures are counted from its commits", "project_id", r.t.ProjectID, "day", d, "commits", len(cd.Commits))
			r.state.CommitDays, r.state.DaysRebuild, r.state.DaysOff = false, false, true
			r.days = nil
			return nil
		}
		sum := sha256.Sum256(body)
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: daySK + d, Kind: "commit_day", Value: cd, IfChanged: true}); err != nil {
			return err
		}
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: summarySK + d, Kind: "commit_summary", IfChanged: true,
			Value: daySummary{Day: d, Groups: groupsOf(cd), Commits: hex.EncodeToString(sum[:16])}}); err != nil {
			return err
		}
	}
	r.days = nil
	return nil
}

// groupsOf groups a day's non-merge commits by author name and e-mail,
// as aggAcc.add does commit items, in a fixed order.
func groupsOf(cd commitDay) []commitGroup {
	by := map[string]*commitGroup{}
	for _, sha := range sortedKeys(cd.Commits) {
		c := cd.Commits[sha]
		if c.Merge {
			continue
		}
		key := c.Name + "\x00" + c.Email
		g := by[key]
		if g == nil {
			g = &commitGroup{Name: c.Name, Email: c.Email, Day: cd.Day, MinSHA: sha, First: c.At, Last: c.At}
			by[key] = g
		}
		g.N, g.Add, g.Del = g.N+1, g.Add+c.Add, g.Del+c.Del
		if c.Default {
			g.NDefault++
		}
		if c.At.Before(g.First) {
			g.First = c.At
		}
		if c.At.After(g.Last) {
			g.Last = c.At
		}
	}
	out := make([]commitGroup, 0, len(by))
	for _, k := range sortedKeys(by) {
		out = append(out, *by[k])
	}
	return out
}
