package secrets

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
)

// MetricFallbacks counts the times a reader switched to a token that is
// not AWSCURRENT's (dimension Stage: AWSPENDING, AWSPREVIOUS or
// unlabelled). An alarm on it tells operators that the stored state needs
// the rotation to finish or repair it.
const MetricFallbacks = "TokenFallbacks"

// Provider hands out the token of one secret that readers should send:
// AWSCURRENT's, cached for TTL so that a burst of GitLab calls costs one
// Secrets Manager read. It never leaves readers without a token while some
// version holds one that works:
//
//   - when GitLab refuses AWSCURRENT's token (401), Fallbacks offers
//     AWSCURRENT read again (a finished rotation), then AWSPENDING (one
//     under way), AWSPREVIOUS (still valid under the admin strategy) and the
//     newest unlabelled versions (an interrupted rotation whose label moved);
//   - when AWSCURRENT is missing, empty or malformed, Token itself serves
//     the first readable of those.
//
// A fallback that worked is kept (pinned) until AWSCURRENT moves on. Each
// switch is one log line and one TokenFallbacks metric. It is safe for
// concurrent use.
type Provider struct {
	store Store
	arn   string
	ttl   time.Duration
	now   func() time.Time
	// Logger receives one line per switch to a non-current token; nil
	// discards.
	Logger *slog.Logger

	mu      sync.Mutex
	current Version // the last AWSCURRENT read that worked
	broken  bool    // the last read found AWSCURRENT missing or malformed
	fetched time.Time
	// pinned is a token served instead of AWSCURRENT's, found in
	// pinnedWhere; it is used until AWSCURRENT no longer holds pinnedOver
	// ("" when AWSCURRENT was unreadable).
	pinned      *gitpulse.Token
	pinnedWhere string
	pinnedOver  string
	// found remembers where the tokens of the last Fallbacks answer live.
	found map[string]string
	// scanOpen is whether the last full read of the versions (at scanned)
	// saw a rotation in progress; wait is RotationOpen's answer.
	scanOpen  bool
	scanned   time.Time
	wait      bool
	openSince time.Time
	// labels is the last full read's listing of the stages (Scan.Labels).
	labels string
}

// rescanAfter is how long after a full read of the versions, while a
// rotation is open, Fallbacks only looks at AWSPENDING: waiting readers
// scan at most once a second.
const rescanAfter = time.Second

// NewProvider returns a Provider for arn.
func NewProvider(store Store, arn string, ttl time.Duration, now func() time.Time) *Provider {
	return &Provider{store: store, arn: arn, ttl: ttl, now: now}
}

// Token returns the token to send: a pinned fallback, else AWSCURRENT,
// read again when the cached value is older than TTL. When AWSCURRENT
// cannot be used (missing, empty, malformed) it serves the first readable
// other version; it fails only when no version can be read.
func (p *Provider) Token(ctx context.Context) (gitpulse.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if (p.current.ID == "" && p.pinned == nil) || p.now().Sub(p.fetched) >= p.ttl {
		if err := p.refresh(ctx); err != nil {
			switch {
			case notFoundOrInvalid(err):
				p.broken, p.fetched = true, p.now()
				if p.pinned == nil {
					cands := p.store.Candidates(ctx, p.arn).Candidates
					if len(cands) == 0 {
						return gitpulse.Token{}, err
					}
					p.pin(ctx, cands[0].Version.Secret.TokenFor(p.arn), cands[0].Where())
				}
			case p.current.ID == "" && p.pinned == nil:
				return gitpulse.Token{}, err
			}
			// Otherwise Secrets Manager is briefly unavailable: keep
			// using the token read before; the next call tries again.
		}
	}
	if p.pinned != nil {
		return *p.pinned, nil
	}
	return p.current.Token, nil
}

// refresh re-reads AWSCURRENT and drops the pin once it has moved on.
func (p *Provider) refresh(ctx context.Context) error {
	v, err := p.store.Read(ctx, p.arn, StageCurrent)
	if err != nil {
		return err
	}
	p.current, p.fetched, p.broken = v, p.now(), false
	if p.pinned != nil && v.Token.Hash() != p.pinnedOver {
		p.pinned, p.pinnedWhere, p.pinnedOver = nil, "", ""
	}
	return nil
}

// Fallbacks answers a 401 for the tokens whose hashes are refused (the
// token a read was sent with, then every fallback GitLab refused since).
// It re-reads AWSCURRENT: if that holds a token not yet refused, the
// rotation has finished (or a label moved) and that is the one to try.
// Otherwise it offers every other readable version (see Candidates): a
// rotation is under way, or was interrupted. A token once refused is never
// offered again within the read: while a read waits, a repair may move
// AWSCURRENT onto a token GitLab has just revoked, and offering that one
// round after round would hide AWSPENDING's new token. It never calls
// GitLab.
func (p *Provider) Fallbacks(ctx context.Context, refused []string) ([]gitpulse.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	isRefused := func(t gitpulse.Token) bool { return slices.Contains(refused, t.Hash()) }
	// Another caller already found a working token: no reads needed.
	// Until the versions are read, a refused candidate is worth another
	// look (RotationOpen).
	p.wait = true
	if p.pinned != nil && !isRefused(*p.pinned) {
		return []gitpulse.Token{*p.pinned}, nil
	}
	err := p.refresh(ctx)
	switch {
	case err == nil && !isRefused(p.current.Token):
		return []gitpulse.Token{p.current.Token}, nil
	case err != nil && !notFoundOrInvalid(err):
		return nil, err
	case err != nil:
		p.broken = true
	}
	if p.scanOpen && p.now().Sub(p.scanned) < rescanAfter {
		// Waiting for a rotation's new token: only AWSPENDING can have
		// changed since the full read a moment ago. One read, not a scan,
		// so that waiting readers do not slow the rotation they wait for.
		v, err := p.store.Read(ctx, p.arn, StagePending)
		if err != nil || isRefused(v.Token) || p.found[v.Token.Hash()] != "" {
			return nil, nil
		}
		p.found[v.Token.Hash()] = StagePending
		return []gitpulse.Token{v.Token}, nil
	}
	scan := p.store.Candidates(ctx, p.arn)
	p.scanOpen, p.wait, p.scanned, p.openSince, p.labels = scan.Open, scan.Open, p.now(), scan.OpenSince, scan.Labels
	p.found = map[string]string{}
	var out []gitpulse.Token
	for _, c := range scan.Candidates {
		tok := c.Version.Secret.TokenFor(p.arn)
		if isRefused(tok) {
			continue
		}
		p.found[tok.Hash()] = c.Where()
		out = append(out, tok)
	}
	return out, errors.Join(scan.Errs...)
}

// Use keeps tok, a token GitLab accepted, until AWSCURRENT moves on; a
// token equal to AWSCURRENT's clears the pin.
func (p *Provider) Use(ctx context.Context, tok gitpulse.Token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.broken && tok.Value.Equal(p.current.Token.Value) {
		p.pinned, p.pinnedWhere, p.pinnedOver = nil, "", ""
		return
	}
	where := p.found[tok.Hash()]
	if where == "" {
		where = "another version"
	}
	p.pin(ctx, tok, where)
}

func (p *Provider) pin(ctx context.Context, tok gitpulse.Token, where string) {
	if p.pinned != nil && p.pinned.Value.Equal(tok.Value) {
		return
	}
	over := ""
	if !p.broken {
		over = p.current.Token.Hash()
	}
	p.pinned, p.pinnedWhere, p.pinnedOver = &tok, where, over
	stage := where
	if stage != StagePending && stage != StagePrevious && stage != StageCurrent {
		stage = "unlabelled"
	}
	metrics.Add(ctx, MetricFallbacks, metrics.Count, 1, metrics.Dim("Stage", stage))
	if p.Logger != nil {
		reason := "GitLab refused AWSCURRENT's token"
		if over == "" {
			reason = "AWSCURRENT is missing, empty or malformed"
		}
		p.Logger.WarnContext(ctx, "gitlab token served from a version that is not AWSCURRENT",
			"secret", p.arn, "served_from", where, "token_hash", tok.Hash(), "reason", reason)
	}
}

// Serving tells where the token Token returns comes from: AWSCURRENT, or
// the stage or unlabelled version of a fallback in use.
func (p *Provider) Serving() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pinned != nil {
		return p.pinnedWhere
	}
	return StageCurrent
}

// RotationOpen reports whether a refused read is worth another round of
// Fallbacks: the last one saw a rotation in progress (a self rotation
// revokes the old token just before the new one reaches AWSPENDING), or
// the labels moved since that read. A full read is a snapshot, and a slow
// one (twenty-odd Secrets Manager calls, then a GitLab call per
// candidate) can list the versions before a rotation opens and try its
// tokens after the rotate call revoked them; so when the last read saw
// nothing open, RotationOpen lists the versions once more (one call) and
// answers true when a rotation has opened or a label has moved since.
//
// The provider is shared by every reader of a function, and so are the
// last read's answer and labels: another reader's look at the versions
// may end the wait of this one, which has not tried what that look found.
// So RotationOpen also answers true, with no call at all, while the
// provider holds a token that this read (refused: its refused tokens'
// hashes) has not tried: a pinned fallback, AWSCURRENT as last read, or a
// candidate of the last Fallbacks answer (another reader's scan).
func (p *Provider) RotationOpen(ctx context.Context, refused []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wait {
		return true
	}
	if p.pinned != nil && !slices.Contains(refused, p.pinned.Hash()) {
		return true
	}
	if p.current.ID != "" && !p.broken && !slices.Contains(refused, p.current.Token.Hash()) {
		return true
	}
	for h := range p.found {
		if !slices.Contains(refused, h) {
			return true
		}
	}
	l, ok, err := p.store.ReadLabels(ctx, p.arn)
	if err != nil || !ok || l.Text == p.labels {
		return false
	}
	p.labels = l.Text
	if l.Open {
		// Wait for AWSPENDING, as after a read that saw it open.
		p.scanOpen, p.wait, p.scanned, p.openSince = true, true, p.now(), l.OpenSince
	}
	return true
}

// Rotating reports whether the last full read of the versions saw a
// rotation in progress, and since when (its AWSPENDING version's
// creation): health tells a rotation's brief window from an outage.
func (p *Provider) Rotating() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.openSince, p.scanOpen
}

// Describe names the provider's source for logs and health output.
func (p *Provider) Describe() string { return "secret:" + p.arn }
