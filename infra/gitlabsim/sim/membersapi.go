// Members API (docs.gitlab.com/api/members): GET /groups|projects/:id/members and
// /members/all (inherited members included).

package sim

import "slices"

type memberJSON struct {
	userBasicJSON
	AccessLevel     int     `json:"access_level"`
	CreatedAt       string  `json:"created_at"`
	ExpiresAt       *string `json:"expires_at"`
	MembershipState string  `json:"membership_state"`
}

// listMembers answers GET /groups/:id/members and /projects/:id/members
// (direct members) and, with inherited, .../members/all (the groups above
// too, highest role per user), by user id; query matches name or
// username, user_ids keeps the given users. Token bots are members like
// anyone else; as in GitLab, the member entity has no "bot" field (their
// usernames are group_<id>_bot_<hex> and project_<id>_bot_<hex>).
func (s *Sim) listMembers(kind TokenKind, inherited bool) func(*readReq) (any, *apiError) {
	return func(rq *readReq) (any, *apiError) {
		var chk validation
		query, _ := rq.q.str(&chk, "query", false)
		userIDs := rq.q.ints(&chk, "user_ids")
		if refused := chk.err(); refused != nil {
			return nil, refused
		}
		var members []Member
		if kind == KindGroup {
			g, refused := rq.group()
			if refused != nil {
				return nil, refused
			}
			members = s.membersLocked(g.ID, 0, inherited)
		} else {
			p, _, refused := rq.project(levelGuest)
			if refused != nil {
				return nil, refused
			}
			members = s.membersLocked(p.GroupID, p.ID, inherited)
		}
		members = slices.DeleteFunc(members, func(m Member) bool {
			return !matchesSearch(query, m.Name, m.Username) || (userIDs != nil && !slices.Contains(userIDs, m.UserID))
		})
		lo, hi, refused := rq.page(len(members))
		if refused != nil {
			return nil, refused
		}
		out := make([]memberJSON, 0, hi-lo)
		for _, m := range members[lo:hi] {
			out = append(out, memberJSON{
				userBasicJSON: *rq.user(m.UserID), AccessLevel: m.AccessLevel,
				CreatedAt: fmtTime(s.users[m.UserID].createdAt), MembershipState: "active",
			})
		}
		return out, nil
	}
}
