// Notes API (docs.gitlab.com/api/notes): GET
// /projects/:id/merge_requests/:iid/notes.

package sim

import "slices"

type noteJSON struct {
	ID              int            `json:"id"`
	Type            *string        `json:"type"`
	Body            string         `json:"body"`
	Attachment      *string        `json:"attachment"`
	Author          *userBasicJSON `json:"author"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	System          bool           `json:"system"`
	NoteableID      int            `json:"noteable_id"`
	NoteableType    string         `json:"noteable_type"`
	ProjectID       int            `json:"project_id"`
	Resolvable      bool           `json:"resolvable"`
	Confidential    bool           `json:"confidential"`
	Internal        bool           `json:"internal"`
	NoteableIID     int            `json:"noteable_iid"`
	CommandsChanges struct{}       `json:"commands_changes"`
}

// listNotes answers GET /projects/:id/merge_requests/:iid/notes: every
// note, system notes included, by created_at (default) or updated_at, desc
// unless sort=asc. GitLab offers no updated_after here.
func (s *Sim) listNotes(rq *readReq) (any, *apiError) {
	var chk validation
	orderBy, _ := rq.q.oneOf(&chk, "order_by", []string{"created_at", "updated_at"})
	desc := rq.q.direction(&chk, "desc")
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	_, _, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	notes := slices.Clone(m.Notes)
	slices.SortFunc(notes, func(a, b Note) int {
		c := a.CreatedAt.Compare(b.CreatedAt)
		if orderBy == "updated_at" {
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		}
		return ordered(c, a.ID, b.ID, desc)
	})
	lo, hi, refused := rq.page(len(notes))
	if refused != nil {
		return nil, refused
	}
	out := make([]noteJSON, 0, hi-lo)
	for _, n := range notes[lo:hi] {
		out = append(out, noteJSON{
			ID: n.ID, Body: n.Body, Author: rq.user(n.AuthorID), CreatedAt: fmtTime(n.CreatedAt), UpdatedAt: fmtTime(n.UpdatedAt),
			System: n.System, NoteableID: n.MRID, NoteableType: "MergeRequest", ProjectID: n.ProjectID, NoteableIID: n.MRIID,
		})
	}
	return out, nil
}
