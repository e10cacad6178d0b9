package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// HookRegistrar creates or updates a course's project hooks on GitLab
// (gpsync.Scheduler.RegisterHooks).
type HookRegistrar interface {
	RegisterHooks(ctx context.Context, projects []int64, url string, secret gitpulse.Secret) ([]gpsync.HookRegistration, error)
}

// HookOverlap is how long a replaced webhook secret is still accepted, so
// that GitLab's deliveries already queued with it, and hooks edited by
// hand, have time to move to the new one.
const HookOverlap = 24 * time.Hour

// hookRecord is a course's webhook set-up (COURSES / HOOKS#<id>).
type hookRecord struct {
	CourseID     int64     `dynamodbav:"course_id"`
	SecretHash   string    `dynamodbav:"secret_hash"`   // hex SHA-256 of the current secret
	PreviousHash string    `dynamodbav:"previous_hash"` // of the one it replaced, accepted until PreviousUntil
	PreviousTill time.Time `dynamodbav:"previous_until"`
	URL          string    `dynamodbav:"url"`
	RotatedAt    time.Time `dynamodbav:"rotated_at"`
}

func hookRecordSK(id int64) string { return "HOOKS#" + strconv.FormatInt(id, 10) }

// RegisterHooksBody is POST /api/v1/courses/{id}/hooks (optional).
type RegisterHooksBody struct {
	// URL is where GitLab should send the webhooks: this API's
	// /api/v1/hooks/gitlab. Default (absent or null): the host the
	// request came to; "" is not a URL and is refused.
	URL *string `json:"url"`
}

// HooksRegistered is the answer of POST /api/v1/courses/{id}/hooks. The
// secret is shown here once; GitPulse keeps only its hash.
type HooksRegistered struct {
	CourseID     int64                     `json:"course_id"`
	URL          string                    `json:"url"`
	Secret       string                    `json:"secret"`
	SecretHash   string                    `json:"secret_hash"`
	Events       []string                  `json:"events"`
	Registered   []gpsync.HookRegistration `json:"registered"`
	Manual       bool                      `json:"manual"`
	Instructions string                    `json:"instructions,omitempty"`
	// PreviousSecretUntil: the secret this one replaced is accepted until
	// then.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
}

// registerHooks is POST /api/v1/courses/{id}/hooks: a new webhook secret for
// the course (the previous one stays valid for HookOverlap), then the
// project hooks on GitLab, created or updated, when the token may; when it
// may not, the answer says what to add by hand. Repeating it rotates the
// secret and updates the same hooks (never a second hook per project).
func (s *Server) registerHooks(w http.ResponseWriter, r *http.Request) error {
	c, err := s.courseRecord(r)
	if err != nil {
		return err
	}
	var body RegisterHooksBody
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
	}
	url, err := hookURL(r, body.URL)
	if err != nil {
		return err
	}
	ctx := r.Context()
	projects, err := store.All[gitpulse.Project](ctx, s.deps.Store, store.CoursePK(c.ID), "PROJECT#")
	if err != nil {
		return err
	}
	secret, ans, err := s.rotateHookSecret(ctx, c.ID, url)
	if err != nil {
		return err
	}
	ans.Events = gpsync.HookEvents
	ans.Registered = []gpsync.HookRegistration{}
	var ids []int64
	for _, p := range projects {
		ids = append(ids, p.ID)
	}
	if s.deps.Hooks == nil {
		ans.Manual = true
	} else if done, err := s.deps.Hooks.RegisterHooks(ctx, ids, url, secret); err != nil {
		ans.Registered = append(ans.Registered, done...)
		if !errors.Is(err, gpsync.ErrHooksNotAllowed) {
			s.deps.Logger.WarnContext(ctx, "webhooks not registered", "course_id", c.ID, "error", redact.String(err.Error()))
		}
		ans.Manual = true
	} else {
		ans.Registered = done
	}
	if ans.Manual {
		ans.Instructions = "GitPulse's GitLab token may not manage webhooks (that needs the Maintainer role and the api scope). " +
			"In each project of the course (or once in the course group, on GitLab Premium): Settings > Webhooks > Add new webhook, " +
			"URL " + url + ", Secret token: the secret above, triggers: push, comments, confidential comments, issues, confidential issues, " +
			"merge requests, pipelines (group hooks: also member events); SSL verification on."
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// rotateHookSecret makes a new secret for course id and stores its hash;
// the previous secret is accepted for HookOverlap more, the one before it
// no longer. A failure after the new secret is stored leaves both secrets
// valid, which is safe.
func (s *Server) rotateHookSecret(ctx context.Context, id int64, url string) (gitpulse.Secret, HooksRegistered, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24)
	secret := gitpulse.NewSecret("gph_" + hex.EncodeToString(b))
	redact.Register(secret.Reveal())
	h := hashHex(secret.Reveal())
	now := s.deps.Now().UTC()
	var prev hookRecord
	if err := s.deps.Store.Get(ctx, "COURSES", hookRecordSK(id), &prev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return secret, HooksRegistered{}, err
	}
	if err := s.deps.Store.Put(ctx, store.Item{PK: "COURSES", SK: hookSecretSK(h), Kind: "hook_secret", Value: hookSecret{Hash: h, CourseID: id}}); err != nil {
		return secret, HooksRegistered{}, err
	}
	rec := hookRecord{CourseID: id, SecretHash: h, URL: url, RotatedAt: now}
	ans := HooksRegistered{CourseID: id, URL: url, Secret: secret.Reveal(), SecretHash: "sha256:" + h}
	if prev.SecretHash != "" {
		until := now.Add(HookOverlap)
		rec.PreviousHash, rec.PreviousTill = prev.SecretHash, until
		ans.PreviousSecretUntil = &until
		if err := s.deps.Store.Put(ctx, store.Item{PK: "COURSES", SK: hookSecretSK(prev.SecretHash), Kind: "hook_secret",
			Value: hookSecret{Hash: prev.SecretHash, CourseID: id, RetiresUnix: until.Unix()}}); err != nil {
			return secret, ans, err
		}
	}
	if prev.PreviousHash != "" && prev.PreviousHash != h {
		if err := s.deps.Store.Delete(ctx, "COURSES", hookSecretSK(prev.PreviousHash)); err != nil {
			return secret, ans, err
		}
	}
	return secret, ans, s.deps.Store.Put(ctx, store.Item{PK: "COURSES", SK: hookRecordSK(id), Kind: "hook_record", Value: rec})
}

// The url of a hooks registration, as the OpenAPI document states it
// (RegisterHooksRequest.url, verbatim; TestHookURLSchemaIsTheHandlers):
// an http(s) URL whose path ends in /api/v1/hooks/gitlab, with a host
// name or address, an optional port and plain path segments before it.
const (
	hookURLPattern   = `^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]+)*/api/v1/hooks/gitlab$`
	hookURLMaxLength = 2048
)

var hookURLRE = regexp.MustCompile(hookURLPattern)

// hookURL is the webhook URL: the one given (see hookURLPattern), or the
// request's host; https except on a loopback host (local runs).
func hookURL(r *http.Request, given *string) (string, error) {
	if given != nil {
		if len(*given) > hookURLMaxLength || !hookURLRE.MatchString(*given) {
			return "", gitpulse.Errorf(gitpulse.EINVALID, "url: must be an http(s) URL ending in %s (https://gitpulse.example.edu%s), got %q", hookPath, hookPath, clip(*given))
		}
		return *given, nil
	}
	scheme := "https"
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		scheme = "http"
	}
	if r.Host == "" {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "url: required (the request has no Host to derive it from)")
	}
	return scheme + "://" + r.Host + hookPath, nil
}

const hookPath = "/api/v1/hooks/gitlab"
