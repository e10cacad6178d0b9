// Merge request approvals API (docs.gitlab.com/api/merge_request_approvals): GET
// /projects/:id/merge_requests/:iid/approvals.

package sim

type approverJSON struct {
	User *userBasicJSON `json:"user"`
}

type approvalsJSON struct {
	ID                             int            `json:"id"`
	IID                            int            `json:"iid"`
	ProjectID                      int            `json:"project_id"`
	Title                          string         `json:"title"`
	Description                    string         `json:"description"`
	State                          string         `json:"state"`
	CreatedAt                      string         `json:"created_at"`
	UpdatedAt                      string         `json:"updated_at"`
	MergeStatus                    string         `json:"merge_status"`
	Approved                       bool           `json:"approved"`
	ApprovalsRequired              int            `json:"approvals_required"`
	ApprovalsLeft                  int            `json:"approvals_left"`
	RequirePasswordToApprove       bool           `json:"require_password_to_approve"`
	ApprovedBy                     []approverJSON `json:"approved_by"`
	SuggestedApprovers             []any          `json:"suggested_approvers"`
	Approvers                      []any          `json:"approvers"`
	ApproverGroups                 []any          `json:"approver_groups"`
	UserHasApproved                bool           `json:"user_has_approved"`
	UserCanApprove                 bool           `json:"user_can_approve"`
	ApprovalRulesLeft              []any          `json:"approval_rules_left"`
	HasApprovalRules               bool           `json:"has_approval_rules"`
	MergeRequestApproversAvailable bool           `json:"merge_request_approvers_available"`
	MultipleApprovalRulesAvailable bool           `json:"multiple_approval_rules_available"`
	InvalidApproversRules          []any          `json:"invalid_approvers_rules"`
}

// getApprovals answers GET /projects/:id/merge_requests/:iid/approvals:
// approved_by in approval order. As on a GitLab EE instance without
// approval rules, nothing is required, so approved is true whether or not
// anyone approved.
func (s *Sim) getApprovals(rq *readReq) (any, *apiError) {
	_, _, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	out := approvalsJSON{
		ID: m.ID, IID: m.IID, ProjectID: m.ProjectID, Title: m.Title, Description: m.Description, State: m.State,
		CreatedAt: fmtTime(m.CreatedAt), UpdatedAt: fmtTime(m.UpdatedAt), MergeStatus: "can_be_merged", Approved: true,
		ApprovedBy: []approverJSON{}, SuggestedApprovers: []any{}, Approvers: []any{}, ApproverGroups: []any{},
		UserCanApprove: m.State == stateOpened && m.AuthorID != rq.u.ID, ApprovalRulesLeft: []any{}, InvalidApproversRules: []any{},
	}
	for _, a := range m.Approvals {
		out.ApprovedBy = append(out.ApprovedBy, approverJSON{User: rq.user(a.UserID)})
		if a.UserID == rq.u.ID {
			out.UserHasApproved, out.UserCanApprove = true, false
		}
	}
	return out, nil
}
