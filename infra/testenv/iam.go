package testenv

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/infra/templatecheck"
)

// moto's account and the administrator make test creates (moto.sh iam).
const (
	motoAccount = "123456789012"
	adminARN    = "arn:aws:iam::" + motoAccount + ":user/gitpulse-test-admin"
)

// IAMEnforced reports whether moto checks every call against IAM (make
// test turns it on; see infra/scripts/moto.sh iam).
func IAMEnforced() bool {
	id, _, _ := adminKey()
	return id != "test"
}

// RoleOptions change the role FunctionRole makes.
type RoleOptions struct {
	// Secrets maps template parameters holding secret ARNs other than the
	// token secret (ApiKeysSecretArn, AdminSecretArn) to the test's ARNs.
	Secrets map[string]string
	// Drop removes these actions from the role (a test that shows a
	// missing grant fails).
	Drop []string
	// ExpectDenied keeps a denial from failing the test: the test reads
	// Denied itself.
	ExpectDenied bool
}

// Role is a function's IAM role on moto, made from the expanded
// template, with credentials of an assumed session and a recording proxy
// in front of moto that the function is pointed at.
type Role struct {
	Function string
	Endpoint string // the proxy's URL: give it to the function as AWS_ENDPOINT_URL
	creds    aws.Credentials

	// policy and principal are for the checks moto does not make.
	policy    policy
	principal string
	// used holds "action placeholder" for each call (the Uses it
	// exercised); placeholders maps the test's ARNs back.
	used         map[string]bool
	placeholders map[string]string

	mu     sync.Mutex
	calls  map[string]int // action → count
	denied []string       // "action: moto's message"
}

// Calls returns the actions the role's credentials made, sorted.
func (r *Role) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.calls))
	for a := range r.calls {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (r *Role) usedList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.used))
	for u := range r.used {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// recordUses appends a function's exercised (action, resource) pairs to
// the folder GITPULSE_TEST_IAM_USES names (make test sets it), one file
// per role, for templatecheck's TestEveryUseIsExercised after go test.
func recordUses(tb testing.TB, function string, used []string) {
	dir := os.Getenv("GITPULSE_TEST_IAM_USES")
	if dir == "" || len(used) == 0 {
		return
	}
	f, err := os.CreateTemp(dir, function+"-*.txt")
	if err != nil {
		tb.Errorf("record IAM uses: %v", err)
		return
	}
	defer f.Close()
	for _, u := range used {
		fmt.Fprintf(f, "%s %s\n", function, u)
	}
}

// Denied returns the calls moto refused, each with the action named.
func (r *Role) Denied() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.denied)
}

// Env returns the environment a Lambda process needs to reach moto with
// the role's credentials.
func (r *Role) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + r.Endpoint,
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + r.creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + r.creds.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + r.creds.SessionToken,
	}
}

// Config returns an AWS configuration with the role's credentials, for
// code a test runs in-process (the sync tests).
func (r *Role) Config(tb testing.TB) aws.Config {
	tb.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion(Region),
		awsconfig.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: r.creds}),
		awsconfig.WithBaseEndpoint(r.Endpoint),
	)
	if err != nil {
		tb.Fatalf("AWS config: %v", err)
	}
	return cfg
}

// FunctionEnv is AWSEnv for a function: with IAM enforced, moto's
// endpoint and the credentials of the function's own role (FunctionRole).
func FunctionEnv(tb testing.TB, function string, res provision.Resources, opts ...RoleOptions) []string {
	tb.Helper()
	if !IAMEnforced() {
		return AWSEnv(tb)
	}
	return FunctionRole(tb, function, res, opts...).Env()
}

// FunctionConfig is AWSConfig for a function's code run in-process: with
// IAM enforced, the credentials of the function's own role.
func FunctionConfig(tb testing.TB, function string, res provision.Resources, opts ...RoleOptions) aws.Config {
	tb.Helper()
	if !IAMEnforced() {
		return AWSConfig(tb)
	}
	return FunctionRole(tb, function, res, opts...).Config(tb)
}

// FunctionRole creates function's role (a logical id of template.yaml,
// "SyncWorkerFunction") on moto from the expanded template (the same
// expansion the least-privilege check reads), its resources resolved to
// the test's, and assumes it. Every call the role's credentials make goes
// through a proxy that records it; a call moto refuses fails the test,
// naming the action (unless ExpectDenied).
//
// What moto checks: the action, always; the resource only for SQS (moto
// authorizes DynamoDB, SNS and Secrets Manager calls against "*", so those
// statements are given Resource "*" here); no conditions (moto ignores
// them). The resources and DynamoDB key conditions are checked statically
// by infra/templatecheck.
func FunctionRole(tb testing.TB, function string, res provision.Resources, opts ...RoleOptions) *Role {
	tb.Helper()
	var o RoleOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	exp := expandedTemplate(tb)
	stmts := exp.Grants(function)
	if len(stmts) == 0 {
		tb.Fatalf("template.yaml grants %s nothing (is it a function's logical id?)", function)
	}
	doc, err := motoPolicy(stmts, resolver(res, o.Secrets), o.Drop)
	if err != nil {
		tb.Fatalf("role of %s: %v", function, err)
	}
	cfg := AWSConfig(tb)
	ctx := context.Background()
	// A name of its own in each run (IAM's limit is 64): a moto server
	// kept between runs still holds the roles of the last one.
	sfx := make([]byte, 4)
	_, _ = rand.Read(sfx)
	base, tail := function+"-"+Prefix(tb), "-"+hex.EncodeToString(sfx)
	name := strings.TrimSuffix(base[:min(64-len(tail), len(base))], "-") + tail
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"sts:AssumeRole"}]}`
	if err := iamCall(ctx, cfg, url.Values{"Action": {"CreateRole"}, "RoleName": {name}, "AssumeRolePolicyDocument": {trust}}); err != nil {
		tb.Fatalf("create role %s: %v", name, err)
	}
	if err := iamCall(ctx, cfg, url.Values{"Action": {"PutRolePolicy"}, "RoleName": {name}, "PolicyName": {"template"}, "PolicyDocument": {string(doc)}}); err != nil {
		tb.Fatalf("role policy of %s: %v", name, err)
	}
	roleARN := "arn:aws:iam::" + motoAccount + ":role/" + name
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String(strings.TrimSuffix(function, "Function"))})
	if err != nil {
		tb.Fatalf("assume role %s: %v", name, err)
	}
	r := &Role{Function: function, calls: map[string]int{}, creds: aws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), Source: "assumed " + name,
	}}
	resolved := resolver(res, o.Secrets)
	r.policy = resolvePolicy(stmts, resolved, o.Drop)
	r.used, r.placeholders = map[string]bool{}, map[string]string{}
	for k, v := range resolved {
		r.placeholders[v] = k
	}
	r.principal = "arn:aws:sts::" + motoAccount + ":assumed-role/" + name + "/" + strings.TrimSuffix(function, "Function")
	r.Endpoint = r.proxy(tb, AWSEndpoint(tb))
	tb.Cleanup(func() {
		if d := r.Denied(); len(d) > 0 && !o.ExpectDenied {
			tb.Errorf("%s's role (template.yaml) does not grant calls its code made:\n  %s", function, strings.Join(d, "\n  "))
		}
		recordUses(tb, function, r.usedList())
		uses := templatecheck.Uses[function]
		for _, a := range r.Calls() {
			if !slices.ContainsFunc(uses, func(u templatecheck.Use) bool { return u.Action == a }) {
				tb.Errorf("%s called %s, which templatecheck.Uses does not list: add it there (and to the role)", function, a)
			}
		}
	})
	return r
}

// iamCall makes one IAM query-protocol call with the administrator's
// credentials (the SDK's IAM client is not a dependency of the module; the
// SDK's own signer signs the request).
func iamCall(ctx context.Context, cfg aws.Config, form url.Values) error {
	form.Set("Version", "2010-05-08")
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *cfg.BaseEndpoint+"/", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("IAM %s: %w", form.Get("Action"), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("IAM %s: credentials: %w", form.Get("Action"), err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		return fmt.Errorf("IAM %s: sign: %w", form.Get("Action"), err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("IAM %s: %w", form.Get("Action"), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("IAM %s: %d %s", form.Get("Action"), resp.StatusCode, b)
	}
	return nil
}

// proxy starts the recording proxy in front of moto and returns its URL.
// It forwards requests unchanged (SigV4 signs the Host header, which the
// proxy keeps), so moto checks the role's signature and policy itself.
func (r *Role) proxy(tb testing.TB, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("moto endpoint: %v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		action, _ := resp.Request.Context().Value(actionKey{}).(string)
		if resp.StatusCode != http.StatusForbidden {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if m := notAuthorized.FindSubmatch(body); m != nil {
			r.mu.Lock()
			r.denied = append(r.denied, fmt.Sprintf("%s: denied (%s)", m[1], strings.TrimSpace(string(m[0]))))
			r.mu.Unlock()
		} else if action != "" {
			r.mu.Lock()
			r.denied = append(r.denied, fmt.Sprintf("%s: refused with 403 (%s)", action, strings.TrimSpace(string(body[:min(len(body), 200)]))))
			r.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		action := requestAction(req, body)
		if action != "" {
			r.mu.Lock()
			r.calls[action]++
			r.mu.Unlock()
		}
		// What moto does not check (resources other than SQS queues,
		// DynamoDB key conditions), the proxy does, answering as AWS would.
		call, parsed := parseRequest(action, body, arnIn)
		if parsed {
			r.mu.Lock()
			for _, res := range call.resources {
				r.used[action+" "+cmp.Or(r.placeholders[res], res)] = true
			}
			r.mu.Unlock()
		}
		// SQS: moto checks the queue itself.
		if parsed && !strings.HasPrefix(action, "sqs:") && !r.policy.allows(call) {
			r.mu.Lock()
			r.denied = append(r.denied, fmt.Sprintf("%s: denied on %s for keys %q (the role's resources or key condition)", action, strings.Join(call.resources, ", "), call.keys))
			r.mu.Unlock()
			ct, msg := denial(call, r.principal)
			w.Header().Set("Content-Type", ct)
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(msg)), 10)) // DynamoDB's SDK checks it
			status := http.StatusBadRequest
			if strings.HasPrefix(action, "sns:") {
				status = http.StatusForbidden
			}
			w.WriteHeader(status)
			_, _ = w.Write(msg)
			return
		}
		rp.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), actionKey{}, action)))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

type actionKey struct{}

var notAuthorized = regexp.MustCompile(`is not authorized to perform: ([a-z0-9-]+:[A-Za-z0-9]+)`)

// requestAction names the IAM action of an AWS API request: the JSON
// protocols name it in X-Amz-Target (DynamoDB_20120810.PutItem,
// secretsmanager.GetSecretValue, AmazonSQS.SendMessage), the query
// protocol (SNS) in the Action form field; the service comes from the
// signature's credential scope.
func requestAction(req *http.Request, body []byte) string {
	scope := regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/`).FindStringSubmatch(req.Header.Get("Authorization"))
	if scope == nil {
		return ""
	}
	service := scope[1]
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		_, op, _ := strings.Cut(t, ".")
		return service + ":" + op
	}
	if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
		return service + ":" + v.Get("Action")
	}
	return service + ":?"
}

// resolver maps the expanded template's placeholders to the test's ARNs.
func resolver(res provision.Resources, secrets map[string]string) map[string]string {
	arn := arnIn
	m := map[string]string{
		"${DataTable.Arn}":               arn("dynamodb", "table/"+res.DataTable),
		"${AuditTable.Arn}":              arn("dynamodb", "table/"+res.AuditTable),
		"${AlertTopic}":                  res.AlertTopicARN,
		"${SyncQueue.Arn}":               arn("sqs", res.SyncQueue),
		"${GitLabTokenSecretArn}":        res.TokenSecretARN,
		"${DataTable.Arn}/index/by_time": arn("dynamodb", "table/"+res.DataTable+"/index/by_time"),
	}
	for k, v := range secrets {
		m["${"+k+"}"] = v
	}
	return m
}

// arnIn is the ARN of a resource of the test's region and moto's account.
func arnIn(service, rest string) string {
	return "arn:aws:" + service + ":" + Region + ":" + motoAccount + ":" + rest
}

// motoPolicy writes the role's statements as a policy document moto
// evaluates: resources resolved through res (SQS) or "*" (the services
// moto authorizes against "*"), log statements dropped (Lambda's, not the
// code's), the drop actions removed.
func motoPolicy(stmts []templatecheck.Statement, res map[string]string, drop []string) ([]byte, error) {
	type statement struct {
		Effect   string
		Action   []string
		Resource []string
	}
	var out []statement
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		byService := map[string][]string{}
		for _, a := range s.Actions {
			if slices.Contains(drop, a) || strings.HasPrefix(a, "logs:") {
				continue
			}
			service, _, _ := strings.Cut(a, ":")
			byService[service] = append(byService[service], a)
		}
		for _, service := range sortedKeys(byService) {
			st := statement{Effect: "Allow", Action: byService[service]}
			if service != "sqs" {
				st.Resource = []string{"*"}
			} else {
				for _, r := range s.Resources {
					v, ok := res[r]
					if !ok || v == "" {
						return nil, fmt.Errorf("no test resource for %s", r)
					}
					st.Resource = append(st.Resource, v)
				}
			}
			out = append(out, st)
		}
	}
	return json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": out})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var expansion struct {
	once sync.Once
	e    *templatecheck.Expanded
	err  error
}

// expandedTemplate returns template.yaml after the SAM transform: the file
// GITPULSE_TEST_EXPANDED_TEMPLATE names (make test expands once for every
// package), else expanded now (once per test binary).
func expandedTemplate(tb testing.TB) *templatecheck.Expanded {
	tb.Helper()
	expansion.once.Do(func() {
		if p := os.Getenv("GITPULSE_TEST_EXPANDED_TEMPLATE"); p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				expansion.err = fmt.Errorf("read expanded template: %w", err)
				return
			}
			expansion.e, expansion.err = templatecheck.ParseExpanded(b)
			return
		}
		root, err := repoRoot()
		if err != nil {
			expansion.err = err
			return
		}
		expansion.e, expansion.err = templatecheck.Expand(root + "/template.yaml")
	})
	if expansion.err != nil {
		tb.Fatalf("expand template.yaml: %v", expansion.err)
	}
	return expansion.e
}
