package gitpulse

import "time"

// Course is a GitLab group whose subgroups are the teams of a class.
type Course struct {
	ID       int64     `json:"id" dynamodbav:"group_id"`
	Path     string    `json:"path" dynamodbav:"path"`
	Name     string    `json:"name" dynamodbav:"name"`
	WebURL   string    `json:"web_url" dynamodbav:"web_url"`
	Source   string    `json:"source" dynamodbav:"source"` // "config" or "api"
	AddedAt  time.Time `json:"added_at" dynamodbav:"added_at"`
	Instance string    `json:"instance,omitempty" dynamodbav:"instance,omitempty"`
}

// Team is a subgroup of a course, or a project directly in the course
// group (a team of its own).
type Team struct {
	ID       string `json:"id" dynamodbav:"team_id"` // "g<group id>" or "p<project id>"
	CourseID int64  `json:"course_id" dynamodbav:"course_id"`
	Name     string `json:"name" dynamodbav:"name"`
	FullPath string `json:"full_path" dynamodbav:"full_path"`
}

// Project is one GitLab project of a course.
type Project struct {
	ID             int64     `json:"id" dynamodbav:"project_id"`
	CourseID       int64     `json:"course_id" dynamodbav:"course_id"`
	TeamID         string    `json:"team_id" dynamodbav:"team_id"`
	Name           string    `json:"name" dynamodbav:"name"`
	Path           string    `json:"path" dynamodbav:"path"`
	FullPath       string    `json:"full_path" dynamodbav:"full_path"`
	WebURL         string    `json:"web_url" dynamodbav:"web_url"`
	DefaultBranch  string    `json:"default_branch" dynamodbav:"default_branch"`
	LastActivityAt time.Time `json:"last_activity_at" dynamodbav:"last_activity_at"`
	Archived       bool      `json:"archived" dynamodbav:"archived"`
	// UpdatedAt is GitLab's updated_at, which a push moves within five
	// minutes (the scheduler's sign of new commits on any branch); read
	// from the listing each run, never stored or served.
	UpdatedAt time.Time `json:"-" dynamodbav:"-"`
}

// Person identifies who did something: a GitLab user when known, else the
// commit author's name and e-mail.
type Person struct {
	UserID   int64  `json:"user_id,omitempty" dynamodbav:"user_id,omitempty"`
	Username string `json:"username,omitempty" dynamodbav:"username,omitempty"`
	Name     string `json:"name,omitempty" dynamodbav:"name,omitempty"`
}

// Member is a project member with its effective (highest, inherited
// included) role.
type Member struct {
	UserID      int64  `json:"user_id" dynamodbav:"user_id"`
	Username    string `json:"username" dynamodbav:"username"`
	Name        string `json:"name" dynamodbav:"name"`
	AccessLevel int    `json:"access_level" dynamodbav:"access_level"`
	Bot         bool   `json:"bot" dynamodbav:"bot"`
	// PublicEmail is the e-mail the user shows on their GitLab profile
	// ("" for none): a signal that attributes commits to them.
	PublicEmail string `json:"-" dynamodbav:"public_email,omitempty"`
}

// Commit is a commit on the project's default branch.
type Commit struct {
	SHA         string    `json:"sha" dynamodbav:"sha"`
	Title       string    `json:"title" dynamodbav:"title"`
	AuthorName  string    `json:"author_name" dynamodbav:"author_name"`
	AuthorEmail string    `json:"author_email" dynamodbav:"author_email"`
	AuthoredAt  time.Time `json:"authored_at" dynamodbav:"authored_at"`
	Additions   int       `json:"additions" dynamodbav:"additions"`
	Deletions   int       `json:"deletions" dynamodbav:"deletions"`
	// Merge is a merge commit; its lines are the merged branch's, so the
	// statistics leave it out.
	Merge bool `json:"merge,omitempty" dynamodbav:"merge,omitempty"`
	// AuthorID is the member the author maps to (by name or e-mail), 0
	// when none does.
	AuthorID int64 `json:"author_id,omitempty" dynamodbav:"author_id,omitempty"`
	// Branches are the branches the commit was read from (each commit is
	// stored once), sorted; OnDefaultBranch says whether the default
	// branch reaches it (merged work).
	Branches        []string `json:"branches" dynamodbav:"branches"`
	OnDefaultBranch bool     `json:"on_default_branch" dynamodbav:"on_default"`
}

// MergeRequest is a merge request with who did what on it.
type MergeRequest struct {
	IID                int64      `json:"iid" dynamodbav:"iid"`
	Title              string     `json:"title" dynamodbav:"title"`
	State              string     `json:"state" dynamodbav:"state"`
	Author             Person     `json:"author" dynamodbav:"author"`
	Assignees          []Person   `json:"assignees" dynamodbav:"assignees"`
	Reviewers          []Person   `json:"reviewers" dynamodbav:"reviewers"`
	MergedBy           *Person    `json:"merged_by,omitempty" dynamodbav:"merged_by,omitempty"`
	CreatedAt          time.Time  `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at" dynamodbav:"updated_at"`
	MergedAt           *time.Time `json:"merged_at,omitempty" dynamodbav:"merged_at,omitempty"`
	ClosedAt           *time.Time `json:"closed_at,omitempty" dynamodbav:"closed_at,omitempty"`
	SourceBranch       string     `json:"source_branch" dynamodbav:"source_branch"`
	TargetBranch       string     `json:"target_branch" dynamodbav:"target_branch"`
	HasDescription     bool       `json:"has_description" dynamodbav:"has_description"`
	ClosesIssues       []int64    `json:"closes_issues,omitempty" dynamodbav:"closes_issues,omitempty"`
	ApprovedBy         []Person   `json:"approved_by,omitempty" dynamodbav:"approved_by,omitempty"`
	NotesSyncedThrough *time.Time `json:"-" dynamodbav:"notes_synced_through,omitempty"`
}

// Note is a comment on a merge request.
type Note struct {
	ID        int64     `json:"id" dynamodbav:"note_id"`
	MRIID     int64     `json:"mr_iid" dynamodbav:"mr_iid"`
	Author    Person    `json:"author" dynamodbav:"author"`
	CreatedAt time.Time `json:"created_at" dynamodbav:"created_at"`
	System    bool      `json:"system" dynamodbav:"system"`
	// MRAuthorID is whose merge request it was (who was reviewed).
	MRAuthorID int64 `json:"mr_author_id" dynamodbav:"mr_author_id"`
}

// Issue is an issue of a project.
type Issue struct {
	IID       int64      `json:"iid" dynamodbav:"iid"`
	Title     string     `json:"title" dynamodbav:"title"`
	State     string     `json:"state" dynamodbav:"state"`
	Author    Person     `json:"author" dynamodbav:"author"`
	Assignees []Person   `json:"assignees" dynamodbav:"assignees"`
	Labels    []string   `json:"labels" dynamodbav:"labels"`
	CreatedAt time.Time  `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt time.Time  `json:"updated_at" dynamodbav:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty" dynamodbav:"closed_at,omitempty"`
	ClosedBy  *Person    `json:"closed_by,omitempty" dynamodbav:"closed_by,omitempty"`
	// ClosedByMR is the merge request that closed it, where GitLab says so.
	ClosedByMR int64 `json:"closed_by_mr,omitempty" dynamodbav:"closed_by_mr,omitempty"`
}

// Pipeline is a CI pipeline run.
type Pipeline struct {
	ID         int64      `json:"id" dynamodbav:"pipeline_id"`
	Status     string     `json:"status" dynamodbav:"status"`
	Ref        string     `json:"ref" dynamodbav:"ref"`
	SHA        string     `json:"sha" dynamodbav:"sha"`
	Source     string     `json:"source" dynamodbav:"source"`
	CreatedAt  time.Time  `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at" dynamodbav:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty" dynamodbav:"finished_at,omitempty"`
	// DurationS is finished minus created, in seconds, for finished
	// pipelines (GitLab's list gives no duration; see package sync).
	DurationS int64 `json:"duration_s,omitempty" dynamodbav:"duration_s,omitempty"`
}

// Running reports whether a pipeline status may still change.
func (p Pipeline) Running() bool {
	switch p.Status {
	case "success", "failed", "canceled", "skipped", "manual", "scheduled":
		return false
	}
	return true
}
