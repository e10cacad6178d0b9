package sync

import (
	"context"
	"regexp"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// withArchived adds non_archived=false to a group issue or MR list, which
// otherwise leaves archived projects out (client-go has no option for it).
func withArchived(req *retryablehttp.Request) error {
	q := req.URL.Query()
	q.Set("non_archived", "false")
	req.URL.RawQuery = q.Encode()
	return nil
}

// updatedAfter sets updated_after to t to the millisecond. client-go's
// options encode a time with go-querystring, as RFC 3339 in whole seconds,
// so an inclusive updated_after cursor would read again every item
// updated in the cursor's second (a burst of a hundred merge requests
// made one page more on each sync); GitLab parses the fraction (Grape's
// DateTime). Nil leaves the parameter out.
func updatedAfter(t *time.Time) gl.RequestOptionFunc {
	return func(req *retryablehttp.Request) error {
		if t == nil {
			return nil
		}
		q := req.URL.Query()
		q.Set("updated_after", t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		req.URL.RawQuery = q.Encode()
		return nil
	}
}

// perPage is GitLab's largest page: the fewest requests for a list.
const perPage = 100

// pages calls fetch for page 1, 2, ... until GitLab reports no next page
// or stop returns true. fetch returns the response for its page.
func pages(ctx context.Context, fetch func(page int64) (*gl.Response, error), stop func() bool) error {
	page := int64(1)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		resp, err := fetch(page)
		if err != nil {
			return err
		}
		if resp == nil || resp.NextPage == 0 || (stop != nil && stop()) {
			return nil
		}
		page = resp.NextPage
	}
}

var botName = regexp.MustCompile(`^(group|project)_\d+_bot_`)

// IsBot reports whether a username is a token bot's.
func IsBot(username string) bool { return botName.MatchString(username) }

func person(u *gl.BasicUser) gitpulse.Person {
	if u == nil {
		return gitpulse.Person{}
	}
	return gitpulse.Person{UserID: u.ID, Username: u.Username, Name: u.Name}
}

func people(us []*gl.BasicUser) []gitpulse.Person {
	out := make([]gitpulse.Person, 0, len(us))
	for _, u := range us {
		out = append(out, person(u))
	}
	return out
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// val is the instant t in UTC, zero for nil. GitLab writes most times in
// UTC but a commit's dates with the commit's own offset; the store holds
// every time in UTC.
func val(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func mergeRequest(m *gl.BasicMergeRequest) gitpulse.MergeRequest {
	mr := gitpulse.MergeRequest{
		IID: m.IID, Title: m.Title, State: m.State, Author: person(m.Author),
		Assignees: people(m.Assignees), Reviewers: people(m.Reviewers),
		CreatedAt: val(m.CreatedAt), UpdatedAt: val(m.UpdatedAt), MergedAt: utc(m.MergedAt), ClosedAt: utc(m.ClosedAt),
		SourceBranch: m.SourceBranch, TargetBranch: m.TargetBranch, HasDescription: m.Description != "",
	}
	if m.MergeUser != nil {
		p := person(m.MergeUser)
		mr.MergedBy = &p
	} else if m.MergedBy != nil {
		p := person(m.MergedBy)
		mr.MergedBy = &p
	}
	return mr
}

func issue(i *gl.Issue) gitpulse.Issue {
	is := gitpulse.Issue{
		IID: i.IID, Title: i.Title, State: i.State, Labels: []string(i.Labels),
		CreatedAt: val(i.CreatedAt), UpdatedAt: val(i.UpdatedAt), ClosedAt: utc(i.ClosedAt),
	}
	if i.Author != nil {
		is.Author = gitpulse.Person{UserID: i.Author.ID, Username: i.Author.Username, Name: i.Author.Name}
	}
	for _, a := range i.Assignees {
		is.Assignees = append(is.Assignees, gitpulse.Person{UserID: a.ID, Username: a.Username, Name: a.Name})
	}
	if i.ClosedBy != nil {
		is.ClosedBy = &gitpulse.Person{UserID: i.ClosedBy.ID, Username: i.ClosedBy.Username, Name: i.ClosedBy.Name}
	}
	if is.Labels == nil {
		is.Labels = []string{}
	}
	return is
}

func pipeline(p *gl.PipelineInfo) gitpulse.Pipeline {
	pl := gitpulse.Pipeline{ID: p.ID, Status: p.Status, Ref: p.Ref, SHA: p.SHA, Source: p.Source,
		CreatedAt: val(p.CreatedAt), UpdatedAt: val(p.UpdatedAt)}
	// GitLab's pipeline list has no finished_at or duration (only the
	// per-pipeline call has): a finished pipeline's last update is its end.
	if !pl.Running() && p.UpdatedAt != nil {
		end := p.UpdatedAt.UTC()
		pl.FinishedAt = &end
		pl.DurationS = int64(end.Sub(pl.CreatedAt).Seconds())
	}
	return pl
}
