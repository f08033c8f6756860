// An outside implementation of CONTRACT.md (tutorial profile) in Node.js, built-ins only: the
// proof that the conformance suite judges an implementation in another language fairly.
// Written from CONTRACT.md; passwords are scrypt-hashed (node:crypto has no argon2 in Node 20),
// the store is in memory with the demo users.
//
//   ARENA_SECRET_KEY=... PORT=8000 node server.js
//   env: ARENA_SECRET_KEY (required, >= 32 bytes), PORT, HOST, ARENA_LOGIN_RATE_LIMIT=off,
//        ARENA_ACCESS_TOKEN_EXPIRE_MINUTES (30), ARENA_OPENAPI (the canonical document's path),
//        ARENA_DOCS_ASSETS (a directory with Swagger UI's files: swagger-ui.css, ...)
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { promisify } = require("node:util");

const scrypt = promisify(crypto.scrypt);
const KEY = process.env.ARENA_SECRET_KEY || "";
if (Buffer.byteLength(KEY) < 32) {
  console.error("ARENA_SECRET_KEY must be at least 32 bytes");
  process.exit(2);
}
const EXPIRE_SECONDS = 60 * Number(process.env.ARENA_ACCESS_TOKEN_EXPIRE_MINUTES || 30);
const RATE_LIMIT = !["off", "false", "0", "no"].includes(
  (process.env.ARENA_LOGIN_RATE_LIMIT || "on").toLowerCase(),
);
const OPENAPI = process.env.ARENA_OPENAPI
  ? fs.readFileSync(process.env.ARENA_OPENAPI)
  : Buffer.from('{"openapi": "3.1.0"}');
const ASSETS = process.env.ARENA_DOCS_ASSETS || "";
const BODY_LIMIT = 64 * 1024;
const KNOWN_SCOPES = ["me", "items"];
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

// --- users: scrypt hashes, computed once at start --------------------------------------------
const SALT = crypto.randomBytes(16);
// The password goes into scrypt hex-encoded: Node 20's scrypt (OpenSSL) stops at a NUL byte, so
// "secret\0" would log in as "secret" (the suite's HARD-002 found it).
const input = (password) => Buffer.from(Buffer.from(password, "utf8").toString("hex"));
const hash = (password) => crypto.scryptSync(input(password), SALT, 32);
const USERS = new Map([
  ["johndoe", { username: "johndoe", full_name: "John Doe", email: "johndoe@example.com",
    disabled: false, scopes: ["me", "items"], items: ["Foo"], hash: hash("secret") }],
  ["alice", { username: "alice", full_name: "Alice Chains", email: "alicechains@example.com",
    disabled: true, scopes: ["me", "items"], items: ["Foo"], hash: hash("secretalice") }],
]);
const DUMMY = hash(crypto.randomBytes(16).toString("hex"));

async function verify(username, password) {
  // H3: an unknown user is verified against a dummy hash (the same time); H4: off the loop.
  const user = USERNAME.test(username) ? USERS.get(username) : undefined;
  const got = await scrypt(input(password), SALT, 32);
  const ok = crypto.timingSafeEqual(got, user ? user.hash : DUMMY);
  return ok && user ? user : null;
}

// --- H12: failed logins per username and per address, in fixed windows ----------------------
const WINDOW = 900 * 1000;
const failures = new Map();
function limited(key, bound, now) {
  const entry = failures.get(key);
  if (!entry || now >= entry.until) return 0;
  return entry.count >= bound ? Math.ceil((entry.until - now) / 1000) : 0;
}
function count(key, now, delta) {
  let entry = failures.get(key);
  if (!entry || now >= entry.until) entry = { count: 0, until: now + WINDOW };
  entry.count = Math.max(0, entry.count + delta);
  failures.set(key, entry);
}

// --- answers ---------------------------------------------------------------------------------
function send(res, status, body, headers = {}) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length,
    ...headers });
  res.end(res.req.method === "HEAD" ? undefined : data);
}
const detail = (res, status, text, headers) => send(res, status, { detail: text }, headers);
const PARSE_ERROR = "There was an error parsing the body";

// --- base64url and JWT (HS256) ---------------------------------------------------------------
const b64url = (buf) => Buffer.from(buf).toString("base64url");
const UTF8 = new TextDecoder("utf-8", { fatal: true });
function segment(text) {
  // Canonical base64url only: no padding, the alphabet, no stray bits in the last character.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, "base64url");
  return b64url(bytes) === text ? bytes : null;
}
function object(bytes) {
  try {
    const value = JSON.parse(UTF8.decode(bytes));
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

function mint(sub, scope) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ sub, scope, iat: now, exp: now + EXPIRE_SECONDS,
    jti: b64url(crypto.randomBytes(16)) }));
  const signature = crypto.createHmac("sha256", KEY).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${b64url(signature)}`;
}

function claims(token) {
  // CONTRACT Authentication 2: the claims of a valid token, else null.
  if (token.length > 8192) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [h, p, s] = parts.map(segment);
  if (!h || !p || !s) return null;
  const header = object(h);
  if (!header || header.alg !== "HS256" || "crit" in header || "b64" in header) return null;
  const expected = crypto.createHmac("sha256", KEY).update(`${parts[0]}.${parts[1]}`).digest();
  if (s.length !== expected.length || !crypto.timingSafeEqual(s, expected)) return null;
  const payload = object(p);
  if (!payload) return null;
  const now = Date.now() / 1000;
  if (!isNumber(payload.exp) || payload.exp <= now) return null;
  if ("nbf" in payload && (!isNumber(payload.nbf) || payload.nbf > now)) return null;
  if ("iat" in payload && (!isNumber(payload.iat) || payload.iat > now)) return null;
  if (typeof payload.sub !== "string" || !USERNAME.test(payload.sub)) return null;
  if ("scope" in payload && typeof payload.scope !== "string") return null;
  if ("jti" in payload && typeof payload.jti !== "string") return null;
  if ("aud" in payload) return null;
  return USERS.has(payload.sub) ? payload : null;
}

// --- the form: application/x-www-form-urlencoded as Starlette reads it -----------------------
function unquote(text) {
  // Runs of %XX escapes are UTF-8 (invalid sequences: U+FFFD); anything else stays as it is.
  return text.replace(/(%[0-9A-Fa-f]{2})+/g, (run) =>
    Buffer.from(run.replace(/%/g, ""), "hex").toString("utf8"));
}
function urlencoded(body) {
  const fields = [];
  for (const chunk of body.toString("latin1").split("&")) {
    if (!chunk) continue;
    const at = chunk.indexOf("=");
    const name = at < 0 ? chunk : chunk.slice(0, at);
    const value = at < 0 ? "" : chunk.slice(at + 1);
    fields.push([unquote(name.replace(/\+/g, " ")), unquote(value.replace(/\+/g, " "))]);
  }
  return fields;
}
const FIELDS = ["grant_type", "username", "password", "scope", "client_id", "client_secret"];
const missing = (field) =>
  ({ type: "missing", loc: ["body", field], msg: "Field required", input: null });

// Python's str.split() whitespace, for the requested scopes (H1).
const SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

async function token(req, res, body) {
  const types = req.headersDistinct["content-type"] || [];
  if (types.length > 1) return detail(res, 400, PARSE_ERROR);
  const media = (types[0] || "").split(";")[0].trim().toLowerCase();
  const fields = media === "application/x-www-form-urlencoded" ? urlencoded(body) : [];
  if (media === "multipart/form-data") return detail(res, 400, PARSE_ERROR); // python tier
  if (fields.length > 100) return detail(res, 400, PARSE_ERROR);
  const values = {};
  for (const [name, value] of fields) if (FIELDS.includes(name)) values[name] = value;
  const errors = [];
  for (const field of FIELDS) {
    const value = values[field];
    if (value === undefined || value === "") {
      if (field === "username" || field === "password") errors.push(missing(field));
    } else if (field === "grant_type" && value !== "password") {
      errors.push({ type: "string_pattern_mismatch", loc: ["body", "grant_type"],
        msg: "String should match pattern '^password$'", input: value,
        ctx: { pattern: "^password$" } });
    }
  }
  if (errors.length) return send(res, 422, { detail: errors });
  const { username, password } = values;
  const now = Date.now();
  const address = req.socket.remoteAddress || "";
  if (RATE_LIMIT) {
    const wait = Math.max(limited(`u:${username}`, 10, now), limited(`a:${address}`, 100, now));
    if (wait) return detail(res, 429, "Too Many Requests", { "retry-after": String(wait) });
    count(`u:${username}`, now, 1);
    count(`a:${address}`, now, 1);
  }
  const user = await verify(username, password);
  if (!user) return detail(res, 400, "Incorrect username or password");
  if (RATE_LIMIT) {
    count(`u:${username}`, now, -1);
    count(`a:${address}`, now, -1);
  }
  const requested = (values.scope || "").split(SPACE).filter(Boolean);
  const granted = [...new Set(requested)].filter(
    (s) => KNOWN_SCOPES.includes(s) && user.scopes.includes(s));
  const scope = granted.join(" ");
  return send(res, 200,
    { access_token: mint(user.username, scope), token_type: "bearer",
      expires_in: EXPIRE_SECONDS, scope },
    { "cache-control": "no-store", pragma: "no-cache" });
}

// --- protected routes ------------------------------------------------------------------------
const ROUTES = {
  "/users/me/": ["me"],
  "/users/me/items/": ["items", "me"],
  "/status/": [],
};
function guard(req, res, route) {
  const required = ROUTES[route];
  const challenge = required.length ? `Bearer scope="${required.join(" ")}"` : "Bearer";
  const value = req.headers.authorization || "";
  const at = value.indexOf(" ");
  const scheme = at < 0 ? value : value.slice(0, at);
  if (!value || scheme.toLowerCase() !== "bearer") {
    detail(res, 401, "Not authenticated", { "www-authenticate": "Bearer" });
    return null;
  }
  const payload = claims(at < 0 ? "" : value.slice(at + 1).trim());
  if (!payload) {
    detail(res, 401, "Could not validate credentials", { "www-authenticate": challenge });
    return null;
  }
  const user = USERS.get(payload.sub);
  const held = (payload.scope ?? "").split(" ").filter((s) => user.scopes.includes(s));
  if (!required.every((s) => held.includes(s))) {
    detail(res, 401, "Not enough permissions", { "www-authenticate": challenge });
    return null;
  }
  if (route !== "/status/" && user.disabled) {
    detail(res, 400, "Inactive user");
    return null;
  }
  return user;
}

function route(req, res, route) {
  const user = guard(req, res, route);
  if (!user) return;
  if (route === "/status/") return send(res, 200, { status: "ok" });
  const { username, email, full_name, disabled } = user;
  if (route === "/users/me/") return send(res, 200, { username, email, full_name, disabled });
  return send(res, 200, user.items.map((item_id) => ({ item_id, owner: username })));
}

// --- H14: the Host header and exact paths ----------------------------------------------------
const HOST = /^(\[[0-9A-Za-z:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?$/;
function badPath(raw) {
  if (!raw.startsWith("/")) return true;
  for (const part of raw.split("/").slice(1, -1)) if (part === "") return true;
  const decoded = raw.replace(/%2e/gi, ".");
  if (decoded.split("/").some((part) => part === "." || part === "..")) return true;
  return /%(2f|5c|[01][0-9a-f]|7f)/i.test(raw) || /[\x00-\x1f\x7f\\]/.test(raw);
}
const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>scopes-arena (node) - Swagger UI</title>
<link rel="stylesheet" type="text/css" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
const config = {"url": "/openapi.json", "dom_id": "#swagger-ui", "deepLinking": true};
config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
config.layout = "BaseLayout";
window.ui = SwaggerUIBundle(config);
</script>
</body>
</html>
`;
const TYPES = { ".css": "text/css", ".js": "text/javascript", ".png": "image/png",
  ".html": "text/html", ".map": "application/json" };

function asset(req, res, name) {
  if (!ASSETS || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(name)) {
    return detail(res, 404, "Not Found");
  }
  fs.readFile(path.join(ASSETS, name), (error, data) => {
    if (error) return detail(res, 404, "Not Found");
    const type = TYPES[path.extname(name)] || "application/octet-stream";
    res.writeHead(200, { "content-type": type, "content-length": data.length });
    res.end(req.method === "HEAD" ? undefined : data);
  });
}

function dispatch(req, res, body) {
  const raw = req.url.split("?")[0];
  const query = req.url.slice(raw.length);
  if (badPath(raw)) return detail(res, 404, "Not Found");
  let where;
  try {
    where = decodeURIComponent(raw);
  } catch {
    return detail(res, 404, "Not Found");
  }
  const get = req.method === "GET" || req.method === "HEAD";
  if (where === "/token") {
    if (req.method === "POST") return token(req, res, body).catch(() =>
      detail(res, 500, "Internal Server Error"));
    return detail(res, 405, "Method Not Allowed", { allow: "POST" });
  }
  if (where in ROUTES || where === "/openapi.json" || where === "/docs") {
    if (!get) return detail(res, 405, "Method Not Allowed", { allow: "GET, HEAD" });
    if (where in ROUTES) return route(req, res, where);
    const page = where === "/docs" ? Buffer.from(PAGE) : OPENAPI;
    res.writeHead(200, { "content-type": where === "/docs" ? "text/html; charset=utf-8"
      : "application/json", "content-length": page.length });
    return res.end(req.method === "HEAD" ? undefined : page);
  }
  if (`${where}/` in ROUTES && get) {
    // A GET route without its trailing slash: 307 to the slash form (relative Location).
    res.writeHead(307, { location: `${where}/${query}`, "content-length": 0 });
    return res.end();
  }
  if (where.startsWith("/docs/assets/") && get) return asset(req, res, where.slice(13));
  return detail(res, 404, "Not Found");
}

const server = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
  const chunks = [];
  let size = 0;
  const declared = Number(req.headers["content-length"] || 0);
  if (declared > BODY_LIMIT) {
    // 413 before anything else, the body read no further.
    res.setHeader("connection", "close");
    res.on("finish", () => req.socket.destroy());
    return detail(res, 413, "Request body too large");
  }
  const hosts = req.headersDistinct.host || [];
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= BODY_LIMIT) return chunks.push(chunk);
    // Over the limit: nothing more is kept, and past 1 MiB more nothing more is read. The 413
    // goes out when the body ends: closing while the client still sends would reset the
    // connection before it reads the answer.
    if (size > BODY_LIMIT + 1024 * 1024) req.socket.destroy();
  });
  req.on("end", () => {
    if (size > BODY_LIMIT) {
      res.setHeader("connection", "close");
      return detail(res, 413, "Request body too large");
    }
    const host = hosts[0] ?? "";
    if (hosts.length > 1 || host.length > 259 || !HOST.test(host)) {
      return detail(res, 400, "Invalid Host header");
    }
    try {
      dispatch(req, res, Buffer.concat(chunks));
    } catch (error) {
      console.error(error);
      if (!res.headersSent) detail(res, 500, "Internal Server Error");
    }
  });
});
server.listen(Number(process.env.PORT || 8000), process.env.HOST || "127.0.0.1", () => {
  console.log(`listening on http://${process.env.HOST || "127.0.0.1"}:${server.address().port}`);
});
