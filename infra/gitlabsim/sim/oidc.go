package sim

// The OpenID Connect side of the provider: discovery, the signing key and
// its JWKS, ID tokens and the UserInfo claims.
//
// Checked against:
//   - https://docs.gitlab.com/integration/openid_connect_provider/ (the
//     claims, which are in the ID token and which in userinfo; ID tokens
//     live 120 seconds by default).
//   - gitlabhq/gitlabhq config/initializers/doorkeeper_openid_connect.rb
//     (issuer, subject = user id, auth_time = current_sign_in_at, every claim
//     under the openid scope, sub_legacy, email = the primary e-mail with
//     the email scope and the public e-mail otherwise, groups in userinfo
//     only, groups_direct in the ID token only, the owner, maintainer and
//     developer group claims left out when empty).
//   - gitlabhq/gitlabhq config/settings.rb (openid_id_token_expire_in_seconds
//     120) and app/controllers/jwks_controller.rb (JWKS keys are kty, kid,
//     e, n, use "sig", alg "RS256"; cached 24 hours).
//   - gitlabhq/gitlabhq spec/requests/openid_connect_spec.rb (discovery's
//     scopes_supported, userinfo without the openid scope: 403 with an empty
//     body).
//   - doorkeeper-gem/doorkeeper-openid_connect discovery_controller.rb,
//     id_token.rb, user_info.rb, userinfo_controller.rb, claims_builder.rb
//     (discovery fields, blank claims left out, claims_supported is
//     iss sub aud exp iat plus the configured claims).

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKey is a Sim's RS256 key. It is made on first use, not in New:
// most simulators never sign anything, and a 2048-bit key takes a while.
type signingKey struct {
	once   sync.Once
	public jose.JSONWebKey
	signer jose.Signer
	// legacySalt stands in for GitLab's secret_key_base in sub_legacy.
	legacySalt string
}

func (k *signingKey) get() *signingKey {
	k.once.Do(func() {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("oidc: generate signing key: %v", err))
		}
		pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
		// json-jwt's default kid, as GitLab's keys have: the RFC 7638
		// thumbprint, SHA-256, base64url.
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			panic(fmt.Sprintf("oidc: key thumbprint: %v", err))
		}
		pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: pub.KeyID}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			panic(fmt.Sprintf("oidc: signer: %v", err))
		}
		k.public, k.signer, k.legacySalt = pub, signer, randomHex(32)
	})
	return k
}

// discoveryJSON is GitLab's /.well-known/openid-configuration, with the
// endpoints and grant types the simulator serves.
type discoveryJSON struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	UserinfoEndpoint       string   `json:"userinfo_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	ScopesSupported        []string `json:"scopes_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
	ResponseModesSupported []string `json:"response_modes_supported"`
	GrantTypesSupported    []string `json:"grant_types_supported"`
	TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
	SubjectTypesSupported  []string `json:"subject_types_supported"`
	IDTokenAlgs            []string `json:"id_token_signing_alg_values_supported"`
	ClaimTypesSupported    []string `json:"claim_types_supported"`
	ClaimsSupported        []string `json:"claims_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
}

// Claim names GitLab adds for the groups a user has a role in.
const (
	claimOwner      = "https://gitlab.org/claims/groups/owner"
	claimMaintainer = "https://gitlab.org/claims/groups/maintainer"
	claimDeveloper  = "https://gitlab.org/claims/groups/developer"
)

func (s *Sim) discovery(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	base := baseURL(r)
	setCORS(w, "GET, HEAD")
	writeJSON(w, http.StatusOK, discoveryJSON{
		Issuer:                 base,
		AuthorizationEndpoint:  base + "/oauth/authorize",
		TokenEndpoint:          base + "/oauth/token",
		RevocationEndpoint:     base + "/oauth/revoke",
		UserinfoEndpoint:       base + "/oauth/userinfo",
		JWKSURI:                base + "/oauth/discovery/keys",
		ScopesSupported:        slices.Clone(oauthScopes),
		ResponseTypesSupported: []string{"code"},
		ResponseModesSupported: []string{"query"},
		GrantTypesSupported:    []string{"authorization_code", "refresh_token"},
		TokenAuthMethods:       []string{"client_secret_basic", "client_secret_post"},
		SubjectTypesSupported:  []string{"public"},
		IDTokenAlgs:            []string{string(jose.RS256)},
		ClaimTypesSupported:    []string{"normal"},
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "sub_legacy", "name", "nickname", "preferred_username",
			"email", "email_verified", "website", "profile", "picture", "groups", "groups_direct",
			claimOwner, claimMaintainer, claimDeveloper,
		},
		CodeChallengeMethods: []string{"plain", "S256"},
	})
}

// jwks answers GET /oauth/discovery/keys.
func (s *Sim) jwks(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	setCORS(w, "GET, HEAD")
	w.Header().Set("Cache-Control", "max-age=86400, public, must-revalidate, no-transform")
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.key.get().public}})
}

// setCORS sets the headers GitLab's CORS rules give the OpenID routes.
func setCORS(w http.ResponseWriter, methods string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", methods)
}

// profileClaims are the claims GitLab gives both the ID token and userinfo
// (blank ones left out, as doorkeeper-openid_connect does).
type profileClaims struct {
	Sub               string `json:"sub"`
	SubLegacy         string `json:"sub_legacy"`
	Name              string `json:"name"`
	Nickname          string `json:"nickname"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
	Website           string `json:"website,omitempty"`
	Profile           string `json:"profile"`
	Picture           string `json:"picture"`
}

// idTokenClaims is an ID token's payload.
type idTokenClaims struct {
	Iss      string `json:"iss"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	AuthTime int64  `json:"auth_time,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	profileClaims
	GroupsDirect []string `json:"groups_direct"`
}

// userinfoJSON is the /oauth/userinfo answer.
type userinfoJSON struct {
	profileClaims
	Groups     []string `json:"groups"`
	Owner      []string `json:"https://gitlab.org/claims/groups/owner,omitempty"`
	Maintainer []string `json:"https://gitlab.org/claims/groups/maintainer,omitempty"`
	Developer  []string `json:"https://gitlab.org/claims/groups/developer,omitempty"`
}

// profileLocked builds the shared claims of user u for a token with the
// given scopes. The caller holds s.mu.
func (s *Sim) profileLocked(u *userRecord, scopes []string, base string) profileClaims {
	sum := sha256.Sum256([]byte(strconv.Itoa(u.ID) + "-" + s.key.get().legacySalt))
	p := profileClaims{
		Sub:               strconv.Itoa(u.ID),
		SubLegacy:         hex.EncodeToString(sum[:]),
		Name:              u.Name,
		Nickname:          u.Username,
		PreferredUsername: u.Username,
		Profile:           base + "/" + u.Username,
	}
	verified := true
	switch {
	case slices.Contains(scopes, scopeEmail):
		p.Email, p.EmailVerified = email(u), &verified
	case u.PublicEmail != "":
		p.Email, p.EmailVerified = u.PublicEmail, &verified
	}
	// GitLab's avatar_url for a user without an uploaded avatar: Gravatar,
	// by the SHA-256 of the primary e-mail, 40 px at scale 2.
	mail := sha256.Sum256([]byte(strings.ToLower(email(u))))
	p.Picture = "https://www.gravatar.com/avatar/" + hex.EncodeToString(mail[:]) + "?s=80&d=identicon"
	return p
}

// userGroups are the full paths of a user's groups as GitLab's claims name
// them: direct memberships, those and every descendant, and the direct
// ones with exactly the Owner, Maintainer and Developer role. Each list is
// sorted. The caller holds s.mu.
type userGroups struct {
	direct, all, owner, maintainer, developer []string
}

func (s *Sim) userGroupsLocked(userID int) userGroups {
	g := userGroups{direct: []string{}, all: []string{}}
	for id, grp := range s.groups {
		path := s.groupFullPathLocked(grp)
		switch s.members[memberKey{sourceGroup, id, userID}] {
		case 0:
		case levelOwner:
			g.owner = append(g.owner, path)
		case levelMaintainer:
			g.maintainer = append(g.maintainer, path)
		case levelDeveloper:
			g.developer = append(g.developer, path)
		}
		if s.members[memberKey{sourceGroup, id, userID}] != 0 {
			g.direct = append(g.direct, path)
		}
		for _, a := range s.groupChainLocked(id) {
			if s.members[memberKey{sourceGroup, a.ID, userID}] != 0 {
				g.all = append(g.all, path)
				break
			}
		}
	}
	for _, l := range [][]string{g.direct, g.all, g.owner, g.maintainer, g.developer} {
		slices.Sort(l)
	}
	return g
}

// idTokenLocked signs the ID token for an access token issued to app, as
// doorkeeper-openid_connect builds it: issued now, living idTokenLifetime.
// The caller holds s.mu.
func (s *Sim) idTokenLocked(t *tokenRecord, nonce, base string, now time.Time) (string, error) {
	u := s.users[t.UserID]
	if u == nil {
		return "", fmt.Errorf("id token: user %d: %w", t.UserID, errNotFound)
	}
	c := idTokenClaims{
		Iss:           base,
		Aud:           t.appUID,
		Iat:           now.Unix(),
		Exp:           now.Add(idTokenLifetime).Unix(),
		Nonce:         nonce,
		profileClaims: s.profileLocked(u, t.Scopes, base),
		GroupsDirect:  s.userGroupsLocked(u.ID).direct,
	}
	if at, ok := s.oauth.signedIn[u.ID]; ok {
		c.AuthTime = at.Unix()
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	jws, err := s.key.get().signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("id token: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// userinfoLocked is the userinfo answer for the token's user. The caller
// holds s.mu.
func (s *Sim) userinfoLocked(t *tokenRecord, base string) (userinfoJSON, bool) {
	u := s.users[t.UserID]
	if u == nil {
		return userinfoJSON{}, false
	}
	g := s.userGroupsLocked(u.ID)
	return userinfoJSON{
		profileClaims: s.profileLocked(u, t.Scopes, base),
		Groups:        g.all,
		Owner:         g.owner,
		Maintainer:    g.maintainer,
		Developer:     g.developer,
	}, true
}
