package secrets

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// VersionLister is the Secrets Manager call that lists a secret's
// versions, unlabelled ones included. Readers and the rotation use it, when
// their client has it, to find a working token that no stage points at
// (the new token of a rotation whose AWSPENDING label was moved away).
type VersionLister interface {
	ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error)
}

// VersionInfo is one version of a secret as ListSecretVersionIds tells
// it: no value.
type VersionInfo struct {
	ID      string
	Stages  []string
	Created time.Time
}

// Has reports whether the version holds stage.
func (v VersionInfo) Has(stage string) bool { return slices.Contains(v.Stages, stage) }

// Versions lists arn's versions, newest first (by creation time; versions
// created in the same instant in the reverse of Secrets Manager's order). Unlabelled
// (deprecated) versions are included: Secrets Manager keeps about a
// hundred of them. It returns ok=false when the client cannot list.
func (s Store) Versions(ctx context.Context, arn string) ([]VersionInfo, bool, error) {
	lister, ok := s.API.(VersionLister)
	if !ok {
		return nil, false, nil
	}
	var out []VersionInfo
	in := &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(100)}
	for {
		page, err := lister.ListSecretVersionIds(ctx, in)
		if err != nil {
			return nil, true, classify(err, "list the versions of secret "+arn)
		}
		for _, v := range page.Versions {
			out = append(out, VersionInfo{ID: aws.ToString(v.VersionId), Stages: v.VersionStages, Created: aws.ToTime(v.CreatedDate)})
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	// Listings come oldest first (moto; AWS documents no order): reversed,
	// versions created in the same instant keep newest first as well.
	slices.Reverse(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, true, nil
}

// ReadVersion returns the version versionID of arn, whatever its stages.
// Errors are classified as Read's.
func (s Store) ReadVersion(ctx context.Context, arn, versionID string) (SecretVersion, error) {
	what := fmt.Sprintf("read secret %s (version %s)", arn, versionID)
	out, err := s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(versionID)})
	if err != nil {
		return SecretVersion{}, classify(err, what)
	}
	return parseVersion(out, arn, what)
}

// Candidate is a token found in one version of a secret, and where.
type Candidate struct {
	Version SecretVersion
	// Stage is the label it was found by (AWSCURRENT, AWSPENDING,
	// AWSPREVIOUS), or "" for an unlabelled version.
	Stage string
	// Created orders candidates: the version's creation time, or the
	// rotation's own stamp when it is later.
	Created time.Time
}

// Where names the candidate's place for logs and alerts: its stage, or
// "unlabelled version <id>".
func (c Candidate) Where() string {
	if c.Stage != "" {
		return c.Stage
	}
	return "unlabelled version " + c.Version.ID
}

// maxUnlabelled bounds how many unlabelled versions a search reads: the
// newest few are the unfinished rotations; older ones are superseded.
const maxUnlabelled = 20

// Scan is what Candidates found in one read of a secret's versions.
type Scan struct {
	Candidates []Candidate
	// Open reports a rotation in progress (AWSPENDING on a version that
	// is not AWSCURRENT, even one with no value yet), opened at OpenSince
	// (that version's creation).
	Open      bool
	OpenSince time.Time
	// Labels is the versions' stages as listed (see Labels.Of): a later
	// listing that differs means the labels moved since.
	Labels string
	// Errs are the failures other than "missing" or "malformed".
	Errs []error
}

// Labels is one listing of a secret's versions reduced to what tells a
// rotation's progress: which version holds which stage.
type Labels struct {
	Text      string // every labelled version's id and stages, in order
	Open      bool
	OpenSince time.Time
}

// labelsOf reduces a listing.
func labelsOf(versions []VersionInfo) Labels {
	var l Labels
	var parts []string
	for _, v := range versions {
		if len(v.Stages) == 0 {
			continue
		}
		stages := slices.Clone(v.Stages)
		slices.Sort(stages)
		parts = append(parts, v.ID+"="+strings.Join(stages, ","))
		if v.Has(StagePending) && !v.Has(StageCurrent) {
			l.Open, l.OpenSince = true, v.Created
		}
	}
	slices.Sort(parts)
	l.Text = strings.Join(parts, ";")
	return l
}

// ReadLabels lists arn's versions once (one call) and reduces the
// listing: whether a rotation is open, and a text that changes whenever a
// label moves. ok is false when the client cannot list.
func (s Store) ReadLabels(ctx context.Context, arn string) (l Labels, ok bool, err error) {
	versions, ok, err := s.Versions(ctx, arn)
	if err != nil || !ok {
		return Labels{}, ok, err
	}
	return labelsOf(versions), true, nil
}

// Candidates returns every readable token version of arn that could hold
// a working token, in the order to try: AWSCURRENT, AWSPENDING,
// AWSPREVIOUS, then unlabelled versions, newest first (at most twenty,
// and only those not older than AWSCURRENT's version when that is
// readable). Newest is by the version's creation time or, later, the
// rotation's own stamp in the value (Secrets Manager's times have a
// second's resolution in emulators). Two versions with the same token are
// one candidate. Versions that cannot be read or parsed are skipped;
// errors other than "missing" or "malformed" are returned beside what
// could be read. The scan is a snapshot: a rotation may open or a label
// move while it reads, which a later ReadLabels tells.
func (s Store) Candidates(ctx context.Context, arn string) Scan {
	var errs []error
	var out []Candidate
	seen := map[string]bool{}
	add := func(c Candidate) {
		h := c.Version.Secret.TokenFor(arn).Hash()
		if seen[h] {
			return
		}
		seen[h] = true
		out = append(out, c)
	}
	versions, _, err := s.Versions(ctx, arn)
	if err != nil {
		errs = append(errs, err)
	}
	labels := labelsOf(versions)
	created := map[string]time.Time{}
	for _, v := range versions {
		created[v.ID] = v.Created
	}
	var currentCreated *time.Time
	for _, stage := range []string{StageCurrent, StagePending, StagePrevious} {
		v, err := s.ReadSecret(ctx, arn, "", stage)
		if err != nil {
			if !notFoundOrInvalid(err) {
				errs = append(errs, err)
			}
			continue
		}
		if stage == StageCurrent {
			c := created[v.ID]
			currentCreated = &c
		}
		add(newCandidate(v, stage, created[v.ID]))
	}
	var unlabelled []Candidate
	for _, v := range versions {
		if len(v.Stages) > 0 || len(unlabelled) >= maxUnlabelled {
			continue
		}
		if currentCreated != nil && v.Created.Before(*currentCreated) {
			continue
		}
		sv, err := s.ReadVersion(ctx, arn, v.ID)
		if err != nil {
			if !notFoundOrInvalid(err) {
				errs = append(errs, err)
			}
			continue
		}
		unlabelled = append(unlabelled, newCandidate(sv, "", v.Created))
	}
	sort.SliceStable(unlabelled, func(i, j int) bool { return unlabelled[i].Created.After(unlabelled[j].Created) })
	for _, c := range unlabelled {
		add(c)
	}
	return Scan{Candidates: out, Open: labels.Open, OpenSince: labels.OpenSince, Labels: labels.Text, Errs: errs}
}

func newCandidate(v SecretVersion, stage string, created time.Time) Candidate {
	c := Candidate{Version: v, Stage: stage, Created: created}
	if t, err := time.Parse(time.RFC3339Nano, v.Secret.RotatedAt); err == nil && t.After(c.Created) {
		c.Created = t
	}
	return c
}
