package sync

import "time"

// PersonStats is what one person did in one project.
type PersonStats struct {
	Key      string `json:"key" dynamodbav:"key"` // "u<user id>" or "e<author e-mail>"
	UserID   int64  `json:"user_id,omitempty" dynamodbav:"user_id,omitempty"`
	Username string `json:"username,omitempty" dynamodbav:"username,omitempty"`
	Name     string `json:"name" dynamodbav:"name"`
	Bot      bool   `json:"bot" dynamodbav:"bot"`
	Member   bool   `json:"member" dynamodbav:"member"`
	// Staff: a member of the course group itself (teacher, assistant),
	// never a student.
	Staff bool `json:"staff" dynamodbav:"staff"`
	// Commits, Additions and Deletions count every branch's commits (work
	// shows when it is pushed); DefaultBranchCommits those the default
	// branch reaches (what was merged).
	Commits              int `json:"commits" dynamodbav:"commits"`
	Additions            int `json:"additions" dynamodbav:"additions"`
	Deletions            int `json:"deletions" dynamodbav:"deletions"`
	DefaultBranchCommits int `json:"default_branch_commits" dynamodbav:"default_branch_commits"`
	MRsOpened            int `json:"mrs_opened" dynamodbav:"mrs_opened"`
	MRsMerged            int `json:"mrs_merged" dynamodbav:"mrs_merged"`
	// Reviews are the review acts on others' merge requests: notes,
	// approvals and merges, counted each (ReviewsReceived the same on
	// this person's merge requests by others).
	Reviews         int            `json:"reviews_given" dynamodbav:"reviews_given"`
	ReviewsReceived int            `json:"reviews_received" dynamodbav:"reviews_received"`
	NotesOnOthers   int            `json:"notes_on_others" dynamodbav:"notes_on_others"`
	Approvals       int            `json:"approvals_given" dynamodbav:"approvals_given"`
	IssuesOpened    int            `json:"issues_opened" dynamodbav:"issues_opened"`
	IssuesClosed    int            `json:"issues_closed" dynamodbav:"issues_closed"`
	FirstActivity   *time.Time     `json:"first_activity,omitempty" dynamodbav:"first_activity,omitempty"`
	LastActivity    *time.Time     `json:"last_activity,omitempty" dynamodbav:"last_activity,omitempty"`
	ActiveDays      int            `json:"active_days" dynamodbav:"active_days"`
	CommitsByDay    map[string]int `json:"commits_by_day,omitempty" dynamodbav:"commits_by_day,omitempty"`
	// Days are the distinct (UTC) days with any activity, sorted: the
	// students listing unites them across projects.
	Days []string `json:"-" dynamodbav:"days,omitempty"`
	// Weeks is the activity per ISO week (keyed by its Monday).
	Weeks map[string]*WeekCount `json:"-" dynamodbav:"weeks,omitempty"`
	days  map[string]bool
}

// WeekCount is one person's (or team's) activity in one ISO week.
type WeekCount struct {
	Week         string `json:"week" dynamodbav:"week"` // the Monday, YYYY-MM-DD (UTC)
	Commits      int    `json:"commits" dynamodbav:"commits"`
	MRs          int    `json:"mrs" dynamodbav:"mrs"` // merge requests opened
	Reviews      int    `json:"reviews" dynamodbav:"reviews"`
	IssuesClosed int    `json:"issues_closed" dynamodbav:"issues_closed"`
}

// ReviewPair is what one person did on another's merge requests: review
// notes (not system notes), approvals, and merges.
type ReviewPair struct {
	Reviewer  string `json:"reviewer" dynamodbav:"reviewer"` // person keys
	Author    string `json:"author" dynamodbav:"author"`
	Notes     int    `json:"notes" dynamodbav:"notes"`
	Approvals int    `json:"approvals" dynamodbav:"approvals"`
	Merges    int    `json:"merges" dynamodbav:"merges"`
}

// ProjectStats is a project's aggregate.
type ProjectStats struct {
	Members int `json:"members" dynamodbav:"members"` // people, bots left out
	// Commits are every branch's, DefaultBranchCommits the merged ones.
	Commits              int            `json:"commits" dynamodbav:"commits"`
	DefaultBranchCommits int            `json:"default_branch_commits" dynamodbav:"default_branch_commits"`
	Additions            int            `json:"additions" dynamodbav:"additions"`
	Deletions            int            `json:"deletions" dynamodbav:"deletions"`
	MRsOpen              int            `json:"mrs_open" dynamodbav:"mrs_open"`
	MRsMerged            int            `json:"mrs_merged" dynamodbav:"mrs_merged"`
	MRsClosed            int            `json:"mrs_closed" dynamodbav:"mrs_closed"`
	Notes                int            `json:"notes" dynamodbav:"notes"`
	IssuesOpen           int            `json:"issues_open" dynamodbav:"issues_open"`
	IssuesClosed         int            `json:"issues_closed" dynamodbav:"issues_closed"`
	Pipelines            map[string]int `json:"pipelines" dynamodbav:"pipelines"` // by status
	Running              int            `json:"pipelines_running" dynamodbav:"pipelines_running"`
	SuccessRate          float64        `json:"pipeline_success_rate" dynamodbav:"pipeline_success_rate"` // of finished pipelines
	LastActivity         *time.Time     `json:"last_activity,omitempty" dynamodbav:"last_activity,omitempty"`
	CommitsByDay         map[string]int `json:"commits_by_day,omitempty" dynamodbav:"commits_by_day,omitempty"`
}

// Aggregates is a project's statistics computed from its items (aggAcc).
// It is a pure function of the stored items, so recomputing after any
// redelivery gives the same exact numbers.
type Aggregates struct {
	// Data fingerprints the project's synced items (aggAcc.Data).
	Data    string
	Project ProjectStats
	People  map[string]*PersonStats
	// Pairs are who reviewed whom, sorted by reviewer then author.
	Pairs []ReviewPair
}
