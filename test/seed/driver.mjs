// Runs the seed guide's snippets (step2-create-client.mjs, step5-token.mjs,
// step6-validate.mjs) against a running certbound and checks what the seed
// promises. The snippets are imported as they are; this file only sets their
// environment, catches what they console.log, and makes a few requests of
// its own to check the answers in detail.
//
//   CERTBOUND_URL       certbound's base URL, e.g. https://127.0.0.1:8443
//   CERTBOUND_API_KEY   the admin key (contents of <data-dir>/admin.key)
//   CERTBOUND_ISSUER    the issuer (certbound serve --issuer); default CERTBOUND_URL
//   NODE_EXTRA_CA_CERTS certbound's root, <data-dir>/ca/root.crt, so Node trusts it
//
// Prints one line per check and ends with "N passed, M failed"; exits 1 if
// any check failed.
import * as jose from "jose";

const base = process.env.CERTBOUND_URL;
const apiKey = process.env.CERTBOUND_API_KEY;
const issuer = process.env.CERTBOUND_ISSUER || base;
if (!base || !apiKey) {
  console.error("set CERTBOUND_URL and CERTBOUND_API_KEY (and NODE_EXTRA_CA_CERTS to certbound's root)");
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++; else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
}

// runSnippet imports a snippet with env set and returns what it passed to
// console.log (or console.error), waiting for snippets that log from a
// promise chain after their module has finished evaluating.
let runs = 0;
async function runSnippet(file, env) {
  Object.assign(process.env, env);
  const out = { logged: [], errors: [] };
  const log = console.log, error = console.error;
  console.log = (...a) => out.logged.push(a[0]);
  console.error = (...a) => out.errors.push(a[0]);
  try {
    await import(`./${file}?run=${++runs}`);
    for (let i = 0; i < 200 && out.logged.length + out.errors.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    console.log = log;
    console.error = error;
  }
  return out;
}

const shorten = (t) => (typeof t === "string" && t.length > 16 ? `${t.slice(0, 16)}…` : String(t));

// Step 2: create the client with the api-key header.
const step2 = await runSnippet("step2-create-client.mjs", { CORE_API_ENDPOINT: base, API_KEY: apiKey });
const client = step2.logged[0] || {};
check("Step 2: POST /recipe/oauth/clients with api-key answers status OK with clientId and clientSecret",
  client.status === "OK" && typeof client.clientId === "string" && typeof client.clientSecret === "string",
  step2.errors.length ? String(step2.errors[0]) : `clientId ${client.clientId}`);
check("Step 2: the client has the seed's name, grant type, scope and audience",
  client.clientName === "TaskService" && JSON.stringify(client.grantTypes) === '["client_credentials"]' &&
  client.scope === "event.create" && JSON.stringify(client.audience) === '["event"]');

// Step 5: the token request, with the right and with a wrong secret.
const tokenEnv = { API_DOMAIN: base, CLIENT_ID: client.clientId, CLIENT_SECRET: client.clientSecret };
const step5 = await runSnippet("step5-token.mjs", tokenEnv);
const accessToken = step5.logged[0];
check("Step 5: POST /auth/oauth/token prints an access token",
  typeof accessToken === "string" && accessToken.split(".").length === 3, shorten(accessToken));

const wrong = await runSnippet("step5-token.mjs", { ...tokenEnv, CLIENT_SECRET: "super_secret_value" });
check("Step 5 with a wrong clientSecret prints no token", wrong.logged.length === 1 && wrong.logged[0] === undefined,
  `printed ${String(wrong.logged[0])}`);

// The same request by hand, to look at the whole answer.
async function tokenRequest(secret) {
  const r = await fetch(`${base}/auth/oauth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ clientId: client.clientId, clientSecret: secret, grantType: "client_credentials",
      scope: ["event.create"], audience: "event" }),
  });
  return { status: r.status, body: await r.json(), challenge: r.headers.get("www-authenticate") };
}
const good = await tokenRequest(client.clientSecret);
check("Step 5: the answer has expiresIn 3600, tokenType Bearer and scope event.create",
  good.status === 200 && good.body.expiresIn === 3600 && good.body.tokenType === "Bearer" && good.body.scope === "event.create",
  `${good.status} expiresIn ${good.body.expiresIn} tokenType ${good.body.tokenType} scope ${good.body.scope}`);
const bad = await tokenRequest("super_secret_value");
check("Step 5 with a wrong clientSecret: 401 invalid_client, no accessToken, a WWW-Authenticate challenge",
  bad.status === 401 && bad.body.error === "invalid_client" && !("accessToken" in bad.body) && !!bad.challenge,
  `${bad.status} ${bad.body.error}`);

// Step 6: the seed's validateClientCredentialsToken.
const { validateClientCredentialsToken } = await import("./step6-validate.mjs");
check("Step 6: validateClientCredentialsToken(token) is true (JWKS from /auth/jwt/jwks.json)",
  (await validateClientCredentialsToken(accessToken)) === true);
const parts = String(accessToken).split(".");
const sig = parts[2] || "";
const tampered = [parts[0], parts[1], (sig[0] === "A" ? "B" : "A") + sig.slice(1)].join(".");
check("Step 6: validateClientCredentialsToken(token with a changed signature) is false",
  (await validateClientCredentialsToken(tampered)) === false);
check("Step 6: validateClientCredentialsToken(\"not.a.token\") is false",
  (await validateClientCredentialsToken("not.a.token")) === false);

// A genuine token of another client, for another audience, must not pass either.
const other = await (await fetch(`${base}/recipe/oauth/clients`, {
  method: "POST",
  headers: { "api-key": apiKey, "Content-Type": "application/json" },
  body: JSON.stringify({ clientName: "ReportService", grantTypes: ["client_credentials"], scope: "report.read", audience: ["report"] }),
})).json();
const otherToken = (await (await fetch(`${base}/auth/oauth/token`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ clientId: other.clientId, clientSecret: other.clientSecret, grantType: "client_credentials",
    scope: ["report.read"], audience: "report" }),
})).json()).accessToken;
check("Step 6: validateClientCredentialsToken(a valid token for audience report) is false",
  typeof otherToken === "string" && (await validateClientCredentialsToken(otherToken)) === false);

// jose with everything pinned, through both JWKS addresses.
for (const path of ["/.well-known/jwks.json", "/auth/jwt/jwks.json"]) {
  const jwks = jose.createRemoteJWKSet(new URL(path, base));
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(accessToken, jwks, {
      issuer, audience: "event", typ: "at+jwt", algorithms: ["ES256"], requiredClaims: ["stt", "scp"],
    });
    check(`jose.jwtVerify via ${path}: issuer, audience event, typ at+jwt, ES256, stt and scp`,
      payload.stt === 1 && payload.scp.includes("event.create") && protectedHeader.typ === "at+jwt",
      `alg ${protectedHeader.alg}, kid ${protectedHeader.kid}`);
    check(`the token lasts 3600 s (exp - iat, via ${path})`, payload.exp - payload.iat === 3600, `${payload.exp - payload.iat} s`);
  } catch (err) {
    check(`jose.jwtVerify via ${path}`, false, err.code || err.message);
  }
}

console.log(`seed snippets: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
