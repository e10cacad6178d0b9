package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Token lifetimes, as on a GitLab instance with default settings.
const (
	// maxLifetimeDays is the longest lifetime a new token may get; GitLab
	// refuses expiry dates after today plus this many days.
	maxLifetimeDays = 365
	// rotationLifetimeDays is the lifetime of a rotated token when the
	// rotate call names no expiry date.
	rotationLifetimeDays = 7
	// maxDescriptionLen is GitLab's limit on token descriptions.
	maxDescriptionLen = 255
)

// dateOf returns 00:00 UTC of t's date, read in t's own location: the
// instant a token expiring on that date stops working.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// today is the UTC date of now, as GitLab's Date.current on an instance in
// UTC.
func today(now time.Time) time.Time {
	return dateOf(now.UTC())
}

// storeTokenLocked stores a new token made from t, giving it an ID, a value
// when it has none, its creation time and, unless it continues a rotation
// chain, its own family. The caller holds s.mu.
func (s *Sim) storeTokenLocked(t Token, now time.Time) *tokenRecord {
	if t.Value == "" {
		t.Value = newValue(t.Kind)
	}
	t.ID = s.nextToken
	s.nextToken++
	t.CreatedAt = now.UTC()
	if t.FamilyID == 0 {
		t.FamilyID = t.ID
	}
	rec := &tokenRecord{Token: t}
	s.tokens[rec.ID] = rec
	s.byValue[rec.Value] = rec
	return rec
}

// addBotTokenLocked creates the bot user of a group or project token (kind
// KindGroup or KindProject), makes it a member of the resource with the
// given level and stores the token t for it. The caller holds s.mu and has
// checked that the resource exists.
func (s *Sim) addBotTokenLocked(kind TokenKind, resourceID int, botName string, level int, t Token, now time.Time) *tokenRecord {
	bot := s.addUserLocked(fmt.Sprintf("%s_%d_bot_%s", kind, resourceID, randomHex(4)), botName, true)
	s.members[memberKey{string(kind), resourceID, bot.ID}] = level
	t.Kind, t.UserID = kind, bot.ID
	t.GroupID, t.ProjectID = 0, 0
	if kind == KindGroup {
		t.GroupID = resourceID
	} else {
		t.ProjectID = resourceID
	}
	return s.storeTokenLocked(t, now)
}

// copyLocked returns a copy of a stored token as it stands at now, with the
// current role of a group or project token's bot. The caller holds s.mu.
func (s *Sim) copyLocked(t *tokenRecord, now time.Time) Token {
	c := t.clone()
	c.Revoked = t.revoked(now)
	c.AccessLevel = s.tokenLevelLocked(&t.Token)
	return c
}

// tokenLevelLocked is the role of a group or project token's bot user in its
// group or project; 0 for other tokens.
func (s *Sim) tokenLevelLocked(t *Token) int {
	switch t.Kind {
	case KindGroup:
		return s.members[memberKey{sourceGroup, t.GroupID, t.UserID}]
	case KindProject:
		return s.members[memberKey{sourceProject, t.ProjectID, t.UserID}]
	}
	return 0
}

// tokenProblems returns GitLab's validation messages for a new token (the
// model's, in its order), empty when the token may be created.
func tokenProblems(name, description string, scopes []string, expiresAt *time.Time, now time.Time) []string {
	var problems []string
	if strings.TrimSpace(name) == "" {
		problems = append(problems, "Name can't be blank")
	}
	if len(scopes) == 0 {
		problems = append(problems, "Scopes can't be blank")
	}
	if len([]rune(description)) > maxDescriptionLen {
		problems = append(problems, fmt.Sprintf("Description is too long (maximum is %d characters)", maxDescriptionLen))
	}
	if p := expiryProblem(expiresAt, now); p != "" {
		problems = append(problems, p)
	}
	return problems
}

// expiryProblem returns GitLab's message for an expiry date past the
// maximum lifetime, or "" when expiresAt is allowed. Dates in the past are
// allowed, as in GitLab's model (such a token is born expired).
func expiryProblem(expiresAt *time.Time, now time.Time) string {
	if last := today(now).AddDate(0, 0, maxLifetimeDays); expiresAt != nil && expiresAt.After(last) {
		return "Expiration date must be before " + last.Format(time.DateOnly)
	}
	return ""
}

// toSentence joins messages the way Rails' to_sentence does: "a", "a and
// b", "a, b, and c".
func toSentence(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " and " + parts[1]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + ", and " + parts[len(parts)-1]
}

// rotateLocked rotates old, as GitLab's PersonalAccessTokens::RotateService
// does in one transaction: it revokes old and stores a token with the same
// kind, user (so the same role), resource, name, description and scopes, a
// new ID and value, created now and expiring on expiresAt (nil: a week from
// today), in old's family. It returns the new token, or GitLab's message
// and nil when old is already revoked or expiresAt is past the maximum
// lifetime; nothing changes then. A second rotation of the same token
// therefore fails: rotating is never safe to repeat. The caller holds s.mu.
func (s *Sim) rotateLocked(old *tokenRecord, expiresAt *time.Time, now time.Time) (*tokenRecord, string) {
	if old.revoked(now) {
		return nil, "Token already revoked"
	}
	if expiresAt == nil {
		e := today(now).AddDate(0, 0, rotationLifetimeDays)
		expiresAt = &e
	}
	// Name, description and scopes come from old, which passed GitLab's
	// checks when it was made; only the new expiry can be wrong.
	if p := expiryProblem(expiresAt, now); p != "" {
		return nil, p
	}
	old.Revoked = true
	e := *expiresAt
	return s.storeTokenLocked(Token{
		Kind:        old.Kind,
		UserID:      old.UserID,
		GroupID:     old.GroupID,
		ProjectID:   old.ProjectID,
		Name:        old.Name,
		Description: old.Description,
		Scopes:      slices.Clone(old.Scopes),
		ExpiresAt:   &e,
		FamilyID:    old.FamilyID,
		PreviousID:  old.ID,
	}, now), ""
}

// revokeFamilyLocked is GitLab's automatic reuse detection: it revokes every
// active token that descends from t by rotation. A rotation chain is
// linear and IDs grow along it, so those are the tokens of t's family with
// a higher ID. Repeating it changes nothing. The caller holds s.mu.
func (s *Sim) revokeFamilyLocked(t *tokenRecord, now time.Time) {
	for _, other := range s.tokens {
		if other.FamilyID == t.FamilyID && other.ID > t.ID && !other.revoked(now) {
			other.Revoked = true
		}
	}
}
