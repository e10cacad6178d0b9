package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// POST /api/v1/hooks/gitlab receives GitLab's project (and group) webhooks.
// It needs no API key: the X-Gitlab-Token header carries the course's
// webhook secret, which GitPulse stores only as a hash (COURSES /
// HOOKSECRET#<hex of its SHA-256>, naming the course) and compares in
// constant time. It does only cheap work: the secret (one GetItem), the
// event, the project (one GetItem), the project's marker (one UpdateItem;
// see gpsync.ClaimHook) and, for the first event of a burst, one SQS
// message. Every call is audited under the hash of the secret it presented.
//
// Answers: 202 for an event taken (queued, coalesced into the pending
// task, a duplicate of one pending) or deliberately ignored (an event kind
// GitPulse does not sync, a project the course does not list); 401 for a
// missing or unknown secret; 413 for a body over HookBodyLimit; 400 for an
// unknown X-Gitlab-Event or a body that is not that event's payload.
// GitLab disables a hook after 4 consecutive failures (4xx or 5xx alike;
// GitLab MR 166329), so an event sent by a correctly configured hook never
// gets a 4xx: ignoring is a 202.

// HookBodyLimit is the largest webhook body accepted. GitLab's push
// payloads carry at most 20 commits; merge request payloads carry the
// description. API Gateway's own limit is 10 MB.
const HookBodyLimit = 1 << 20

// hookEvents are the X-Gitlab-Event values GitPulse reads; the other
// events GitLab sends (client-go's list) are answered 202 and ignored.
var (
	hookEvents = []gl.EventType{gl.EventTypePush, gl.EventTypeMergeRequest, gl.EventTypeNote, gl.EventConfidentialNote,
		gl.EventTypeIssue, gl.EventConfidentialIssue, gl.EventTypePipeline, gl.EventTypeMember}
	ignoredHookEvents = []gl.EventType{gl.EventTypeTagPush, gl.EventTypeBuild, gl.EventTypeJob, gl.EventTypeDeployment,
		gl.EventTypeEmoji, gl.EventTypeFeatureFlag, gl.EventTypeMilestone, gl.EventTypeProject, gl.EventTypeRelease,
		gl.EventTypeResourceAccessToken, gl.EventTypeServiceHook, gl.EventTypeSubGroup, gl.EventTypeVulnerability,
		gl.EventTypeWikiPage, gl.EventTypeSystemHook}
)

// HookAuditor records webhook calls (audit.Recorder.RecordWebhook).
type HookAuditor interface {
	RecordWebhook(req *http.Request, secretHash string, status int, detail string, start time.Time)
}

// HookAnswer is the 202 answer of a webhook.
type HookAnswer struct {
	// Status is queued (a task was queued), coalesced (added to the
	// pending task), duplicate (this event is in the pending task
	// already) or ignored (nothing to sync; Reason says why).
	Status    string  `json:"status"`
	Event     string  `json:"event"`
	ProjectID []int64 `json:"project_ids,omitempty"`
	Reason    string  `json:"reason,omitempty"`
}

// receiveHook is POST /api/v1/hooks/gitlab.
func (s *Server) receiveHook(w http.ResponseWriter, r *http.Request) error {
	start := s.deps.Now()
	secret := r.Header.Get("X-Gitlab-Token")
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	detail := string(gl.HookEventType(r))
	answer, err := s.hook(r, secret)
	if err != nil {
		s.fail(rec, r, err)
		detail += ": refused: " + gitpulse.ErrorMessage(err)
	} else {
		writeJSON(rec, http.StatusAccepted, answer)
		detail += fmt.Sprintf(", projects %v: %s", answer.ProjectID, answer.Status)
		if answer.Reason != "" {
			detail += " (" + answer.Reason + ")"
		}
	}
	if s.deps.HookAudit != nil {
		s.deps.HookAudit.RecordWebhook(r, gitpulse.NewSecret(secret).Hash(), rec.status, detail, start)
	}
	return nil
}

// hookSecret is a course's webhook secret record (COURSES /
// HOOKSECRET#<hex>): the hash, the course, and when a replaced secret
// stops being accepted (0 while it is the course's current one).
type hookSecret struct {
	Hash        string `dynamodbav:"hash"`
	CourseID    int64  `dynamodbav:"course_id"`
	RetiresUnix int64  `dynamodbav:"retires_unix"`
}

func hookSecretSK(hexHash string) string { return "HOOKSECRET#" + hexHash }

func hashHex(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// hookCourse authenticates a webhook: the course whose secret it presents.
func (s *Server) hookCourse(ctx context.Context, secret string) (int64, error) {
	if secret == "" {
		return 0, gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "X-Gitlab-Token: missing; give the hook the course's webhook secret (POST /api/v1/courses/{id}/hooks)")
	}
	h := hashHex(secret)
	var rec hookSecret
	err := s.deps.Store.Get(ctx, "COURSES", hookSecretSK(h), &rec)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	// The lookup is by hash, so its timing says nothing of the secret;
	// the comparison of what was found is constant-time all the same.
	match := subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(h)) == 1
	if err != nil || !match || (rec.RetiresUnix != 0 && s.deps.Now().Unix() >= rec.RetiresUnix) {
		return 0, gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "X-Gitlab-Token: not a webhook secret of any course (or one replaced more than a day ago)")
	}
	return rec.CourseID, nil
}

func (s *Server) hook(r *http.Request, secret string) (HookAnswer, error) {
	ctx := r.Context()
	courseID, err := s.hookCourse(ctx, secret)
	if err != nil {
		return HookAnswer{}, err
	}
	event := gl.HookEventType(r)
	answer := HookAnswer{Event: string(event)}
	known := slices.Contains(hookEvents, event)
	if !known && !slices.Contains(ignoredHookEvents, event) {
		return answer, gitpulse.Errorf(gitpulse.EINVALID, "X-Gitlab-Event: %q is not a GitLab webhook event (Push Hook, Merge Request Hook, Note Hook, Issue Hook, Pipeline Hook, Member Hook, ...)", clip(string(event)))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, HookBodyLimit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return answer, gitpulse.Errorf(gitpulse.ETOOLARGE, "body: larger than %d bytes", HookBodyLimit)
	case err != nil:
		return answer, err
	}
	if !known {
		answer.Status, answer.Reason = "ignored", "GitPulse syncs nothing this event changes"
		return answer, nil
	}
	parsed, err := gl.ParseWebhook(event, body)
	if err != nil {
		return answer, gitpulse.Errorf(gitpulse.EINVALID, "body: not a GitLab %s payload: %s", event, clip(jsonReason(err)))
	}
	pid, change, ignore := hookChange(parsed)
	if ignore != "" {
		answer.Status, answer.Reason = "ignored", ignore
		return answer, nil
	}
	var pids []int64
	if member, ok := parsed.(*gl.MemberEvent); ok {
		if pids, err = s.groupProjects(ctx, courseID, member.GroupID); err != nil {
			return answer, err
		}
	} else {
		if pid <= 0 {
			return answer, gitpulse.Errorf(gitpulse.EINVALID, "body: the %s payload names no project", event)
		}
		var listed struct{}
		switch err := s.deps.Store.Get(ctx, store.CoursePK(courseID), store.ProjectSK(pid), &listed); {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return answer, err
		default:
			pids = []int64{pid}
		}
	}
	answer.ProjectID = pids
	if len(pids) == 0 {
		// A 4xx would count towards disabling the hook; the project may be
		// new (the next scheduled sync lists it) or outside the course.
		answer.Status, answer.Reason = "ignored", fmt.Sprintf("not a project of course %d (yet): the scheduled sync lists new projects", courseID)
		if pid > 0 {
			answer.ProjectID = []int64{pid}
		}
		return answer, nil
	}
	eventID := r.Header.Get("X-Gitlab-Event-UUID")
	if eventID == "" {
		eventID = r.Header.Get("Idempotency-Key")
	}
	if len(eventID) > 64 {
		eventID = eventID[:64]
	}
	answer.Status = "coalesced"
	for _, p := range pids {
		claim, err := gpsync.ClaimHook(ctx, s.deps.Store, courseID, p, change, eventID, s.deps.Now())
		if err != nil {
			return answer, err
		}
		switch claim {
		case gpsync.ClaimDuplicate:
			if answer.Status == "coalesced" {
				answer.Status = "duplicate"
			}
		case gpsync.ClaimQueue:
			if err := s.queueHookTask(ctx, courseID, p); err != nil {
				return answer, err
			}
			answer.Status = "queued"
		}
	}
	return answer, nil
}

// queueHookTask sends project pid's hook task. When the queue refuses it,
// the marker stays claimed for HookMaxAge: later events coalesce into it
// and the scheduled sync catches up meanwhile.
func (s *Server) queueHookTask(ctx context.Context, courseID, pid int64) error {
	if s.deps.Queue == nil || s.deps.QueueURL == "" {
		return gitpulse.Errorf(gitpulse.EUNAVAILABLE, "the sync queue is not configured on this deployment")
	}
	body, _ := json.Marshal(gpsync.HookTask(courseID, pid, s.deps.Now().UTC()))
	if _, err := s.deps.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.deps.QueueURL), MessageBody: aws.String(string(body))}); err != nil {
		s.deps.Logger.ErrorContext(ctx, "webhook task not queued", "project_id", pid, "error", err.Error())
		return gitpulse.Errorf(gitpulse.EUNAVAILABLE, "the sync task could not be queued; the scheduled sync will catch up")
	}
	return nil
}

// groupProjects is the course's projects a group member event touches:
// all of them for the course group, else those of the team group.
func (s *Server) groupProjects(ctx context.Context, courseID, groupID int64) ([]int64, error) {
	projects, err := store.All[gitpulse.Project](ctx, s.deps.Store, store.CoursePK(courseID), "PROJECT#")
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, p := range projects {
		if groupID == courseID || p.TeamID == "g"+strconv.FormatInt(groupID, 10) {
			out = append(out, p.ID)
		}
	}
	return out, nil
}

// hookChange is what a parsed event says changed: the project and the
// change, or why it changes nothing GitPulse stores.
func hookChange(ev any) (pid int64, c gpsync.HookChange, ignore string) {
	switch ev := ev.(type) {
	case *gl.PushEvent:
		return ev.ProjectID, gpsync.HookChange{Kind: gpsync.HookPush}, ""
	case *gl.MergeEvent:
		kind := gpsync.HookMergeRequest
		if ev.ObjectAttributes.Action == "merge" {
			kind = gpsync.HookMerge
		}
		return ev.Project.ID, gpsync.HookChange{Kind: kind, MR: ev.ObjectAttributes.IID}, ""
	case *gl.MergeCommentEvent:
		return ev.ProjectID, gpsync.HookChange{Kind: gpsync.HookMergeRequest, MR: ev.MergeRequest.IID}, ""
	case *gl.IssueCommentEvent:
		return ev.ProjectID, gpsync.HookChange{Kind: gpsync.HookIssue, Issue: ev.Issue.IID}, ""
	case *gl.IssueEvent:
		return ev.Project.ID, gpsync.HookChange{Kind: gpsync.HookIssue, Issue: ev.ObjectAttributes.IID}, ""
	case *gl.PipelineEvent:
		return ev.Project.ID, gpsync.HookChange{Kind: gpsync.HookPipeline}, ""
	case *gl.MemberEvent:
		// GitLab triggers member events for group webhooks only
		// (webhook_events: "Events triggered for group webhooks only"):
		// the project hooks registerHooks creates never send one; a group
		// hook on the course group (GitLab Premium) does, naming the group
		// whose membership changed (TestMemberHookRereadsMembers).
		return 0, gpsync.HookChange{Kind: gpsync.HookMember}, ""
	}
	return 0, c, "comments on commits and snippets are not synced"
}
