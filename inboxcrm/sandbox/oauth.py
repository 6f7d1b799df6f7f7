"""OAuth 2.0 as accounts.google.com and oauth2.googleapis.com answer it.

Authorization code with PKCE, refresh, revoke, userinfo and id_tokens. Errors use
Google's bodies: the authorization endpoint shows an error page for a bad client or
redirect URI and redirects with ``error=`` only once the request is trustworthy.
"""

import base64
import binascii
import html
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from inboxcrm.sandbox.errors import ApiError, unauthenticated
from inboxcrm.sandbox.state import AccessToken, Account, AuthCode, Client, Grant, State
from inboxcrm.sandbox.tokens import at_hash, s256, sign_jwt
from inboxcrm.sandbox.web import json_response

AUTH = "https://www.googleapis.com/auth/"
EMAIL_SCOPE = AUTH + "userinfo.email"
PROFILE_SCOPE = AUTH + "userinfo.profile"
_ALIASES = {"email": EMAIL_SCOPE, "profile": PROFILE_SCOPE}
KNOWN_SCOPES = {
    "openid", EMAIL_SCOPE, PROFILE_SCOPE, "https://mail.google.com/",
    *(AUTH + "gmail." + s for s in (
        "modify", "readonly", "send", "compose", "labels", "insert", "metadata",
    )),
}  # fmt: skip
ISSUER = "https://accounts.google.com"
CODE_LIFETIME = 600  # seconds an authorization code stays redeemable
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
_AUTH_PARAMS = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
    "code_challenge_method", "access_type", "prompt", "nonce", "include_granted_scopes",
)  # fmt: skip


def normalize_scopes(raw: str) -> list[str]:
    """Google answers with full scope URLs even when short aliases were asked for."""
    out: list[str] = []
    for scope in raw.replace(",", " ").split():
        full = _ALIASES.get(scope, scope)
        if full not in out:
            out.append(full)
    return out


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        return json_response(body, self.status)


def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(doc, status=status, content_type="text/html; charset=utf-8")


def _error_page(status: int, error: str, detail: str) -> Response:
    return _page(f"Error {status}: {error}", f"<p>{html.escape(detail)}</p>", status)


def _redirect(uri: str, params: dict[str, str]) -> Response:
    sep = "&" if urlsplit(uri).query else "?"
    return Response(status=302, headers={"Location": uri + sep + urlencode(params)})


def _redirect_allowed(client: Client, uri: str) -> bool:
    if client.redirect_uris:
        return uri in client.redirect_uris
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and (parts.hostname or "") in _LOOPBACK | {
        h.strip("[]") for h in _LOOPBACK
    }


def authorize(state: State, request: Request) -> Response:
    """GET /o/oauth2/auth: validate, choose an account, ask consent, redirect with a code."""
    args = request.values
    client = state.clients.get(args.get("client_id", ""))
    if client is None:
        return _error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect_uri = args.get("redirect_uri", "")
    if not _redirect_allowed(client, redirect_uri):
        return _error_page(400, "redirect_uri_mismatch", f"redirect_uri={redirect_uri}")
    problem = _request_problem(args.get("response_type"), args.get("scope", ""), args)
    if problem:
        return _error_page(400, *problem)
    email = (args.get("login_hint") or args.get("authuser") or "").lower()
    account = state.accounts.get(email)
    if request.method == "POST":
        if args.get("decision") != "allow" or account is None:
            return _redirect(redirect_uri, _with_state({"error": "access_denied"}, args))
        return _approve(state, account, args)
    if account is None:
        return _chooser(state, args)
    if args.get("login_hint"):
        # Sandbox shortcut: a hinted sandbox account approves without the pages.
        return _approve(state, account, args)
    return _consent(account, args)


def _request_problem(response_type: str | None, scope: str, args: Any) -> tuple[str, str] | None:
    if not response_type:
        return ("invalid_request", "Required parameter is missing: response_type")
    if response_type != "code":
        return ("unsupported_response_type", f"Invalid response_type: {response_type}")
    scopes = normalize_scopes(scope)
    if not scopes:
        return ("invalid_request", "Missing required parameter: scope")
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        return ("invalid_scope", f"Some requested scopes were invalid. {{invalid={unknown}}}")
    method = args.get("code_challenge_method")
    challenge = args.get("code_challenge")
    if method and not challenge:
        return ("invalid_request", "Missing required parameter: code_challenge")
    if challenge and (method or "plain") not in ("S256", "plain"):
        return ("invalid_request", "Invalid code_challenge_method")
    if challenge and not 43 <= len(challenge) <= 128:
        return ("invalid_request", "Invalid code_challenge")
    return None


def _with_state(params: dict[str, str], args: Any) -> dict[str, str]:
    if args.get("state") is not None:
        params["state"] = args["state"]
    return params


def _hidden(args: Any) -> str:
    return "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(args[k], quote=True)}'>"
        for k in _AUTH_PARAMS
        if k in args
    )


def _chooser(state: State, args: Any) -> Response:
    query = {k: args[k] for k in _AUTH_PARAMS if k in args}
    items = "".join(
        f"<li><a href='?{html.escape(urlencode({**query, 'authuser': a.email}))}'>"
        f"{html.escape(a.name)} &lt;{html.escape(a.email)}&gt;</a></li>"
        for a in state.accounts.values()
    )
    return _page("Choose an account", f"<ul>{items}</ul>")


def _consent(account: Account, args: Any) -> Response:
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in normalize_scopes(args["scope"]))
    form = (
        f"<p>{html.escape(account.email)} is asked to allow:</p><ul>{scopes}</ul>"
        f"<form method='post'>{_hidden(args)}"
        f"<input type='hidden' name='authuser' value='{html.escape(account.email)}'>"
        "<button name='decision' value='allow'>Allow</button>"
        "<button name='decision' value='deny'>Cancel</button></form>"
    )
    return _page("Sign in with Google", form)


def _approve(state: State, account: Account, args: Any) -> Response:
    scopes = set(normalize_scopes(args["scope"]))
    with state.lock:
        grant = state.grants.get((account.email, args["client_id"]))
        first_consent = grant is None or not grant.refresh_tokens
        if args.get("include_granted_scopes") == "true" and grant is not None:
            scopes |= grant.scopes
        code = AuthCode(
            code="4/0" + secrets.token_urlsafe(32),
            email=account.email,
            client_id=args["client_id"],
            redirect_uri=args["redirect_uri"],
            scopes=frozenset(scopes),
            challenge=args.get("code_challenge", ""),
            challenge_method=args.get("code_challenge_method") or "plain",
            issue_refresh=args.get("access_type") == "offline"
            and (first_consent or "consent" in (args.get("prompt") or "").split()),
            nonce=args.get("nonce"),
            expires_at=state.clock.now() + CODE_LIFETIME,
        )
        state.codes[code.code] = code
    params = {"code": code.code, "scope": " ".join(sorted(scopes)), "authuser": "0"}
    return _redirect(args["redirect_uri"], _with_state(params, args))


def _client_auth(state: State, request: Request) -> Client:
    client_id = request.form.get("client_id", "")
    secret = request.form.get("client_secret", "")
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError(401, "invalid_client", "Unauthorized") from exc
    client = state.clients.get(client_id)
    if client is None:
        raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
    if not secrets.compare_digest(client.secret, secret):
        raise OAuthError(401, "invalid_client", "Unauthorized")
    return client


def token(state: State, request: Request) -> Response:
    """POST /token: the authorization_code and refresh_token grants."""
    try:
        grant_type = request.form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: ")
        client = _client_auth(state, request)
        with state.lock:
            if grant_type == "authorization_code":
                return json_response(_exchange_code(state, client, request.form))
            if grant_type == "refresh_token":
                return json_response(_refresh(state, client, request.form))
        raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    except OAuthError as exc:
        return exc.response()


def _exchange_code(state: State, client: Client, form: Any) -> dict[str, Any]:
    code = state.codes.get(form.get("code", ""))
    if code is None:
        raise OAuthError(400, "invalid_grant", "Malformed auth code.")
    if code.used or code.client_id != client.client_id or code.expires_at < state.clock.now():
        raise OAuthError(400, "invalid_grant", "Bad Request")
    if form.get("redirect_uri") != code.redirect_uri:
        raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
    verifier = form.get("code_verifier")
    if code.challenge:
        if not verifier:
            raise OAuthError(400, "invalid_grant", "Missing code verifier.")
        expected = s256(verifier) if code.challenge_method == "S256" else verifier
        if not secrets.compare_digest(expected, code.challenge):
            raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
    code.used = True
    key = (code.email, client.client_id)
    grant = state.grants.get(key)
    if grant is None:
        grant = state.grants[key] = Grant(code.email, client.client_id, set())
    grant.scopes |= code.scopes
    out = _issue(state, grant, code.scopes, code.nonce)
    if code.issue_refresh:
        refresh = "1//0" + secrets.token_urlsafe(48)
        grant.refresh_tokens.add(refresh)
        state.refresh_tokens[refresh] = grant
        out["refresh_token"] = refresh
    return out


def _refresh(state: State, client: Client, form: Any) -> dict[str, Any]:
    grant = state.refresh_tokens.get(form.get("refresh_token", ""))
    if grant is None or grant.client_id != client.client_id:
        raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
    scopes = set(grant.scopes)
    if form.get("scope"):
        scopes = set(normalize_scopes(form["scope"]))
        if not scopes <= grant.scopes:
            raise OAuthError(400, "invalid_scope", "Bad Request")
    return _issue(state, grant, frozenset(scopes), None)


def _issue(state: State, grant: Grant, scopes: frozenset[str], nonce: str | None) -> dict[str, Any]:
    now = state.clock.now()
    lifetime = state.options.token_lifetime
    access = AccessToken(
        "ya29.a0" + secrets.token_urlsafe(64), grant.email, grant.client_id, scopes, now + lifetime
    )
    state.access_tokens[access.token] = access
    grant.access_tokens.add(access.token)
    out: dict[str, Any] = {
        "access_token": access.token,
        "expires_in": lifetime - 1,
        "scope": " ".join(sorted(scopes)),
        "token_type": "Bearer",
    }
    if "openid" in scopes:
        out["id_token"] = _id_token(state, state.accounts[grant.email], access, nonce)
    return out


def _id_token(state: State, account: Account, access: AccessToken, nonce: str | None) -> str:
    now = int(state.clock.now())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "azp": access.client_id,
        "aud": access.client_id,
        "sub": account.sub,
        "at_hash": at_hash(access.token),
        "iat": now,
        "exp": now + 3600,
    }
    if EMAIL_SCOPE in access.scopes:
        claims.update(email=account.email, email_verified=True)
    if PROFILE_SCOPE in access.scopes:
        claims.update(_names(account))
    if nonce:
        claims["nonce"] = nonce
    return sign_jwt(claims)


def _names(account: Account) -> dict[str, str]:
    given, _, family = account.name.partition(" ")
    picture = "https://lh3.googleusercontent.com/a/sandbox-" + account.sub
    return {"name": account.name, "given_name": given, "family_name": family, "picture": picture}


def revoke(state: State, request: Request) -> Response:
    """POST /revoke: revoking any token of a grant revokes the whole grant."""
    value = request.values.get("token", "")
    with state.lock:
        grant = state.refresh_tokens.get(value)
        access = state.access_tokens.get(value)
        if grant is None and access is not None:
            grant = state.grants.get((access.email, access.client_id))
        if grant is None:
            return OAuthError(400, "invalid_token", "Token expired or revoked").response()
        revoke_grant(state, grant)
    return json_response({})


def revoke_grant(state: State, grant: Grant) -> None:
    for refresh in grant.refresh_tokens:
        state.refresh_tokens.pop(refresh, None)
    for access in grant.access_tokens:
        state.access_tokens.pop(access, None)
    state.grants.pop((grant.email, grant.client_id), None)


def bearer(state: State, authorization: str | None) -> AccessToken:
    """The live access token in an Authorization header, or Google's 401."""
    if not authorization or not authorization.startswith("Bearer "):
        raise unauthenticated()
    access = state.access_tokens.get(authorization[7:].strip())
    if access is None or access.expires_at <= state.clock.now():
        raise unauthenticated()
    return access


def userinfo(state: State, request: Request, version: str) -> Response:
    """GET /oauth2/v3/userinfo (OIDC claims) or the older v1/v2 shape."""
    try:
        access = bearer(state, request.headers.get("Authorization"))
    except ApiError:
        body = {"error": "invalid_request", "error_description": "Invalid Credentials"}
        return json_response(body, 401, {"WWW-Authenticate": 'Bearer realm="accounts"'})
    account = state.accounts[access.email]
    info: dict[str, Any] = {"sub": account.sub}
    if PROFILE_SCOPE in access.scopes:
        info.update(_names(account))
    if EMAIL_SCOPE in access.scopes:
        info.update(email=account.email, email_verified=True)
    if version != "v3":
        info = {"id": info.pop("sub"), **info}
        if "email_verified" in info:
            info["verified_email"] = info.pop("email_verified")
    return json_response(info)
