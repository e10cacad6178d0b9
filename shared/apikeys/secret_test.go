package apikeys_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// keysSecret is an API keys secret on moto.
type keysSecret struct {
	sm  *secretsmanager.Client
	arn string
}

func newKeysSecret(t *testing.T, value string) keysSecret {
	t.Helper()
	sm := secretsmanager.NewFromConfig(testenv.AWSConfig(t))
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(testenv.Prefix(t) + "/api-keys"), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	return keysSecret{sm: sm, arn: aws.ToString(out.ARN)}
}

// put stores value as a new version in the given stages (AWSCURRENT when
// none).
func (s keysSecret) put(t *testing.T, value string, stages ...string) {
	t.Helper()
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.arn), SecretString: aws.String(value)}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	if _, err := s.sm.PutSecretValue(context.Background(), in); err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
}

func (s keysSecret) value(t *testing.T) string {
	t.Helper()
	v, err := secrets.ReadString(context.Background(), s.sm, s.arn, secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// names returns the names of src's keys, and its error.
func names(t *testing.T, src apikeys.Source) (string, error) {
	t.Helper()
	keys, err := src.Keys(context.Background())
	var out []string
	for _, k := range keys {
		out = append(out, k.Name)
	}
	return strings.Join(out, ","), err
}

func mustNames(t *testing.T, src apikeys.Source, want string) {
	t.Helper()
	got, err := names(t, src)
	if err != nil {
		t.Fatalf("Keys: got error %q, want keys %s", err, want)
	}
	if got != want {
		t.Errorf("Keys: got %s, want %s", got, want)
	}
}

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestSecretSourceReadsCurrent(t *testing.T) {
	s := newKeysSecret(t, stored(entry("dashboard", "reader", readerHash)))
	s.put(t, stored(entry("pending", "admin", adminHash)), secrets.StagePending)
	src := &apikeys.SecretSource{API: s.sm, SecretID: s.arn}
	mustNames(t, src, "dashboard")
}

func TestSecretSourceCachesForTTL(t *testing.T) {
	s := newKeysSecret(t, stored(entry("dashboard", "reader", readerHash)))
	clk := testenv.NewClock(start)
	src := &apikeys.SecretSource{API: s.sm, SecretID: s.arn, Now: clk.Now} // default TTL, 5 minutes
	mustNames(t, src, "dashboard")

	s.put(t, stored(entry("dashboard", "reader", readerHash), entry("ops", "admin", adminHash)))
	clk.Add(5*time.Minute - time.Second)
	mustNames(t, src, "dashboard")
	clk.Add(time.Second)
	mustNames(t, src, "dashboard,ops")
}

func TestSecretSourceServesStaleKeys(t *testing.T) {
	for _, tt := range []struct {
		name        string
		breakSecret func(t *testing.T, s keysSecret)
	}{
		{"secret deleted", func(t *testing.T, s keysSecret) {
			_, err := s.sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(s.arn), ForceDeleteWithoutRecovery: aws.Bool(true)})
			if err != nil {
				t.Fatalf("DeleteSecret: %v", err)
			}
		}},
		{"value does not parse", func(t *testing.T, s keysSecret) { s.put(t, `{"keys":[`) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newKeysSecret(t, stored(entry("dashboard", "reader", readerHash)))
			clk := testenv.NewClock(start)
			ttl := time.Minute
			src := &apikeys.SecretSource{API: s.sm, SecretID: s.arn, TTL: ttl, Now: clk.Now}
			mustNames(t, src, "dashboard")
			tt.breakSecret(t, s)

			// The first failed read: the cached keys, with the failure.
			clk.Add(ttl)
			got, err := names(t, src)
			if got != "dashboard" || !errors.Is(err, apikeys.ErrStale) {
				t.Fatalf("Keys after a failed read: got %q, %v; want dashboard and ErrStale", got, err)
			}
			// Until the next try (min(TTL, 30s) later) the cache answers quietly.
			clk.Add(29 * time.Second)
			mustNames(t, src, "dashboard")
			clk.Add(time.Second)
			if got, err := names(t, src); got != "dashboard" || !errors.Is(err, apikeys.ErrStale) {
				t.Errorf("Keys at the next try: got %q, %v; want dashboard and ErrStale", got, err)
			}
			// 10 × TTL after the good read, the keys are dropped.
			clk.Set(start.Add(10*ttl - time.Second))
			if got, err := names(t, src); got != "dashboard" || !errors.Is(err, apikeys.ErrStale) {
				t.Errorf("Keys just before 10×TTL: got %q, %v; want dashboard and ErrStale", got, err)
			}
			clk.Set(start.Add(10 * ttl))
			got, err = names(t, src)
			if got != "" || err == nil || errors.Is(err, apikeys.ErrStale) {
				t.Fatalf("Keys at 10×TTL: got %q, %v; want no keys and a read error", got, err)
			}
			a := &apikeys.Authenticator{Source: src}
			_, err = a.Authenticate(context.Background(), "Bearer "+readerKey)
			if code, msg := gitpulse.ErrorCode(err), gitpulse.ErrorMessage(err); code != gitpulse.EUNAVAILABLE || msg != "API keys cannot be read" {
				t.Errorf("Authenticate: got %s %q, want %s %q", code, msg, gitpulse.EUNAVAILABLE, "API keys cannot be read")
			}
		})
	}
}

func TestSecretSourceFirstReadFails(t *testing.T) {
	s := newKeysSecret(t, stored(entry("dashboard", "reader", "sha256:not-a-hash")))
	src := &apikeys.SecretSource{API: s.sm, SecretID: s.arn}
	_, err := src.Keys(context.Background())
	if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID {
		t.Errorf("Keys code: got %q (%v), want %q", got, err, gitpulse.EINVALID)
	}
	if err != nil && !strings.Contains(err.Error(), "keys[0].hash") {
		t.Errorf("Keys error: got %q, want it to name keys[0].hash", err)
	}
	missing := &apikeys.SecretSource{API: s.sm, SecretID: s.arn[:strings.LastIndex(s.arn, ":secret:")] + ":secret:gitpulse-missing-AbC123"}
	a := &apikeys.Authenticator{Source: missing}
	_, err = a.Authenticate(context.Background(), "Bearer "+readerKey)
	if code := gitpulse.ErrorCode(err); code != gitpulse.EUNAVAILABLE {
		t.Fatalf("Authenticate code: got %q, want %q", code, gitpulse.EUNAVAILABLE)
	}
	if msg := gitpulse.ErrorMessage(err); msg != "API keys cannot be read" {
		t.Errorf("Authenticate message: got %q, want %q", msg, "API keys cannot be read")
	}
	if gitpulse.ErrorCode(errors.Unwrap(err)) != gitpulse.ENOTFOUND {
		t.Errorf("Authenticate cause: got %v, want the ENOTFOUND read error wrapped", errors.Unwrap(err))
	}
}

func TestSecretSourceConcurrentCallers(t *testing.T) {
	s := newKeysSecret(t, stored(entry("dashboard", "reader", readerHash), entry("ops", "admin", adminHash)))
	clk := testenv.NewClock(start)
	a := &apikeys.Authenticator{Source: &apikeys.SecretSource{API: s.sm, SecretID: s.arn, TTL: time.Second, Now: clk.Now}}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			if i%4 == 0 {
				clk.Add(time.Second)
			}
			key, want := readerKey, "dashboard"
			if i%2 == 1 {
				key, want = adminKey, "ops"
			}
			k, err := a.Authenticate(context.Background(), "Bearer "+key)
			if err == nil && k.Name != want {
				err = errors.New("got key " + k.Name + ", want " + want)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Authenticate: %v", err)
		}
	}
}

func TestAddToSecret(t *testing.T) {
	ctx := context.Background()
	_, k, err := apikeys.Generate("ops", apikeys.RoleAdmin, start)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("object form, other fields kept", func(t *testing.T) {
		s := newKeysSecret(t, `{"comment":"owned by ops","keys":[{"name":"dashboard","role":"reader","hash":"`+readerHash+`","note":"x"}]}`)
		if err := apikeys.AddToSecret(ctx, s.sm, s.arn, k); err != nil {
			t.Fatalf("AddToSecret: %v", err)
		}
		v := s.value(t)
		for _, want := range []string{`"comment":"owned by ops"`, `"note":"x"`, `"hash":"` + k.Hash + `"`, `"created_at":"2026-11-25T12:00:00Z"`} {
			if !strings.Contains(v, want) {
				t.Errorf("secret after AddToSecret: got %s, want it to contain %s", v, want)
			}
		}
		mustNames(t, &apikeys.SecretSource{API: s.sm, SecretID: s.arn}, "dashboard,ops")
	})
	t.Run("bare array stays an array", func(t *testing.T) {
		s := newKeysSecret(t, "["+entry("dashboard", "reader", readerHash)+"]")
		if err := apikeys.AddToSecret(ctx, s.sm, s.arn, k); err != nil {
			t.Fatalf("AddToSecret: %v", err)
		}
		if v := s.value(t); !strings.HasPrefix(v, "[") {
			t.Errorf("secret after AddToSecret: got %s, want a bare array", v)
		}
		mustNames(t, &apikeys.SecretSource{API: s.sm, SecretID: s.arn}, "dashboard,ops")
	})
	t.Run("empty secret", func(t *testing.T) {
		s := newKeysSecret(t, " ")
		if err := apikeys.AddToSecret(ctx, s.sm, s.arn, k); err != nil {
			t.Fatalf("AddToSecret: %v", err)
		}
		mustNames(t, &apikeys.SecretSource{API: s.sm, SecretID: s.arn}, "ops")
	})
	t.Run("duplicate name refused", func(t *testing.T) {
		before := stored(entry("ops", "reader", readerHash))
		s := newKeysSecret(t, before)
		err := apikeys.AddToSecret(ctx, s.sm, s.arn, k)
		if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID || !strings.Contains(err.Error(), `"ops" is also the name of keys[0]`) {
			t.Errorf("AddToSecret: got %s %v, want EINVALID naming the duplicate", got, err)
		}
		if v := s.value(t); v != before {
			t.Errorf("secret after a refused AddToSecret: got %s, want %s", v, before)
		}
	})
	t.Run("invalid secret refused", func(t *testing.T) {
		s := newKeysSecret(t, stored(entry("dashboard", "reader", readerKey)))
		err := apikeys.AddToSecret(ctx, s.sm, s.arn, k)
		if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID || strings.Contains(err.Error(), readerKey) {
			t.Errorf("AddToSecret: got %s %v, want EINVALID without the value", got, err)
		}
	})
}
