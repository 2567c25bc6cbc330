-- MBT gateway: runs in nginx (lua-nginx-module, LuaJIT) before every request is proxied.
--  1. authenticates: the access JWT from "Authorization: Bearer" or the mbt_access cookie, HS256
--     verified here (HMAC from the OpenSSL that nginx links, through the FFI), expiry checked;
--  2. counts the request against the caller's budget for its tier (per user), or the per-address
--     budget for anonymous callers, in a shared-memory zone that every nginx worker sees;
--  3. answers 401 / 429 itself in MBT's error shape, and puts X-RateLimit-* on every response;
--  4. lets at most MBT_POSTGREST_SLOTS requests per worker through to PostgREST at once (its connection
--     pool, shared between the workers); the others wait their turn here, first come first served
--     (ngx.semaphore), up to QUEUE_SECONDS, then get 503. Without it every request waits for a pool
--     connection inside PostgREST, where the next to get a free connection is any of the waiting ones:
--     under load a few wait many times longer than the rest;
--  5. on a stack clock (MBT_CLOCK, libfaketime: ngx.time() is the stack's time) hands PostgREST, a static
--     binary on the real clock, the verified claims with `exp` moved to the real clock and no `iat`;
--  6. passes PostgREST's answers through postgrest_answers.lua: its errors and PostgreSQL's become
--     catalogued codes, and the OpenAPI document says GET /account is one object.
-- Revocation is checked behind it: PostgREST's pre-request hook and the sessions service both look
-- the session up on every request.
local ffi = require "ffi"
local semaphore = require "ngx.semaphore"
local bit = require "bit"
local cjson = require "cjson.safe"
local answers = require "postgrest_answers"

ffi.cdef [[
const void *EVP_sha256(void);
unsigned char *HMAC(const void *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]]

local M = {}
local WINDOW = 60 -- seconds: budgets are requests per minute
local QUEUE_SECONDS = 10 -- the longest a request waits for its turn at PostgREST (its pool timeout too)
local slots_per_worker
local postgrest_slots -- this worker's semaphore, made on first use (a semaphore belongs to one worker)
local secret
local clock_offset = 0 -- seconds from the real clock to the stack clock (MBT_CLOCK_OFFSET)
local limits = {}
local md_buf = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")

-- session endpoints that work without a valid access token (a stale one is ignored there)
local anonymous_ok = {
    ["/api/sessions/signup"] = true,
    ["/api/sessions/login"] = true,
    ["/api/sessions/refresh"] = true,
    ["/api/sessions/health"] = true,
}

function M.init()
    secret = os.getenv("MBT_JWT_SECRET")
    assert(secret and #secret >= 32, "MBT_JWT_SECRET must be set (at least 32 characters)")
    limits = {
        free = tonumber(os.getenv("MBT_RATE_FREE")) or 60,
        pro = tonumber(os.getenv("MBT_RATE_PRO")) or 600,
        pro_plus = tonumber(os.getenv("MBT_RATE_PRO_PLUS")) or 3000,
        anonymous = tonumber(os.getenv("MBT_RATE_ANONYMOUS")) or 60,
    }
    slots_per_worker = tonumber(os.getenv("MBT_POSTGREST_SLOTS")) or 0  -- 0: no queue
    clock_offset = tonumber(os.getenv("MBT_CLOCK_OFFSET")) or 0
end

local function hmac_sha256(key, data)
    ffi.C.HMAC(ffi.C.EVP_sha256(), key, #key, data, #data, md_buf, md_len)
    return ffi.string(md_buf, md_len[0])
end

local function b64url_decode(s)
    s = s:gsub("-", "+"):gsub("_", "/")
    local pad = #s % 4
    if pad > 0 then
        s = s .. string.rep("=", 4 - pad)
    end
    return ngx.decode_base64(s)
end

local function b64url_encode(s)
    return (ngx.encode_base64(s):gsub("%+", "-"):gsub("/", "_"):gsub("=+$", ""))
end

-- the verified claims as a token for PostgREST on the real clock: exp less the stack clock's offset, no iat
local function real_clock_token(claims)
    claims.exp = claims.exp - clock_offset
    claims.iat = nil
    local body = b64url_encode('{"alg":"HS256","typ":"JWT"}') .. "." .. b64url_encode(cjson.encode(claims))
    return body .. "." .. b64url_encode(hmac_sha256(secret, body))
end

local function same(a, b)
    if #a ~= #b then
        return false
    end
    local diff = 0
    for i = 1, #a do
        diff = bit.bor(diff, bit.bxor(a:byte(i), b:byte(i)))
    end
    return diff == 0
end

-- the claims of a valid token, or nil and the reason
local function verify(token)
    local h, p, s = token:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
    if not h then
        return nil, "the token is not a JWT"
    end
    local header = cjson.decode(b64url_decode(h) or "")
    if type(header) ~= "table" or header.alg ~= "HS256" then
        return nil, "the token's algorithm is not HS256"
    end
    local signature = b64url_decode(s)
    if not signature or not same(hmac_sha256(secret, h .. "." .. p), signature) then
        return nil, "the token's signature is not valid"
    end
    local claims = cjson.decode(b64url_decode(p) or "")
    if type(claims) ~= "table" or type(claims.sub) ~= "string" then
        return nil, "the token carries no user"
    end
    if type(claims.exp) ~= "number" or claims.exp <= ngx.time() then
        return nil, "the token has expired"
    end
    return claims
end

-- resources of the api schema (views) are read-only: every write is an RPC (POST /api/rpc/...)
local function read_only(uri)
    return uri:sub(1, 5) == "/api/" and uri:sub(1, 9) ~= "/api/rpc/"
        and uri:sub(1, 13) ~= "/api/sessions"
end

local function send_error(status, code, message, details, hint)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json; charset=utf-8"
    ngx.say(cjson.encode({ code = code, message = message, details = details or cjson.null, hint = hint or cjson.null }))
    return ngx.exit(status)
end

-- the access token and where it came from: "header", "cookie", or nil; a malformed Authorization
-- header is an error (never passed on as anonymous, which would dodge the caller's budget)
local function bearer_token()
    local auth = ngx.var.http_authorization
    if auth then
        local m = ngx.re.match(auth, [[^\s*bearer\s+(\S+)\s*$]], "joi")
        if m then
            return m[1], "header"
        end
        return nil, "malformed"
    end
    local cookie = ngx.var.cookie_mbt_access
    if cookie and cookie ~= "" then
        return cookie, "cookie"
    end
    return nil
end

-- count one request for key in its 60 s window (the window opens with the key's first request)
local function count(key, limit)
    local dict = ngx.shared.mbt_rate
    local n = dict:incr(key, 1, 0, WINDOW)
    local now = ngx.now()
    local opened = dict:get(key .. "|t")
    if n == 1 or not opened then
        opened = now
        dict:set(key .. "|t", now, WINDOW)
    end
    local reset = math.ceil(opened + WINDOW)
    local ctx = ngx.ctx
    ctx.rate_limit, ctx.rate_remaining, ctx.rate_reset = limit, math.max(limit - n, 0), reset
    return n <= limit, math.min(math.max(math.ceil(opened + WINDOW - now), 1), WINDOW)
end

local safe_methods = { GET = true, HEAD = true, OPTIONS = true }

-- whether nginx.conf sends uri to PostgREST (everything under /api/ but the sessions service's paths)
local function to_postgrest(uri)
    return uri:sub(1, 5) == "/api/" and uri ~= "/api/sessions" and uri:sub(1, 14) ~= "/api/sessions/"
end

-- a body for PostgREST must be JSON, in our error shape (PostgREST's own answers would be PGRST102 for
-- malformed JSON, and a 404 "function not found" for another Content-Type); an empty body passes (a call
-- without arguments). nginx keeps every body in memory: client_body_buffer_size is the 16 KiB limit.
local function check_body()
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body or body == "" then
        return
    end
    local content_type = ngx.var.content_type
    if not content_type or not ngx.re.find(content_type, [[^\s*application/json\s*(;|$)]], "joi") then
        return send_error(415, "MBV07", "The request body must be JSON.", "Content-Type: " .. (content_type or ""),
            "Send the header 'Content-Type: application/json'.")
    end
    local _, err = cjson.decode(body)
    if err then
        return send_error(400, "MBV01", "The request body is not valid JSON.", err,
            "Send a JSON object, e.g. {\"symbol\": \"AAPL\", \"qty\": 1, \"side\": \"buy\", ...}.")
    end
    -- every call takes its arguments as one object (PostgREST would take an array as a batch of calls)
    if not ngx.re.find(body, [[^\s*\{]], "jo") then
        return send_error(422, "MBV03", "The request body must be a JSON object.", nil,
            "Send the arguments as one object, e.g. {\"status\": \"all\"}.")
    end
end

function M.access()
    if ngx.req.is_internal() then
        return
    end
    local uri = ngx.var.uri
    local token, source = bearer_token()
    local claims, why
    if token then
        claims, why = verify(token)
    elseif source == "malformed" then
        why = "the Authorization header is not \"Bearer <token>\""
    end
    local rejected = why and not (anonymous_ok[uri] and source ~= "malformed")

    local key, limit, who
    if claims then
        who = claims.tier or "free"
        limit = limits[who] or limits.free
        key = "u:" .. claims.sub
    else
        who = "anonymous"
        limit = limits.anonymous
        key = "a:" .. ngx.var.remote_addr
    end
    local allowed, retry_after = count(key, limit)

    if rejected then
        return send_error(401, "MBA08", "Your access token is not valid: " .. why .. ".", why,
            "Refresh it (POST /api/sessions/refresh) or log in again (POST /api/sessions/login).")
    end
    if not allowed then
        ngx.header["Retry-After"] = retry_after
        return send_error(429, "MBR01",
            string.format("Rate limit reached: %d requests a minute for %s callers.", limit, who),
            string.format("limit = %d per minute; retry after %d s", limit, retry_after),
            who == "anonymous" and "Log in: signed-in callers get a budget of their own."
                or "Wait for the reset, or upgrade your tier for a larger budget.")
    end

    local method = ngx.req.get_method()
    if read_only(uri) and not safe_methods[method] then
        ngx.header["Allow"] = "GET, HEAD"
        return send_error(405, "MBN02", method .. " is not allowed on " .. uri .. ".",
            "API resources are read-only; every change is a call.",
            "Use the matching POST /api/rpc/<name>, see the OpenAPI document at GET /api/.")
    end
    -- a browser sends the cookie on any same-site request, forms included; a custom header proves
    -- the request came from script on our own pages (cross-site forms cannot set one)
    if claims and source == "cookie" and not safe_methods[method] and not ngx.var.http_x_requested_with then
        return send_error(403, "MBA11", "A change authenticated by the session cookie needs the X-Requested-With header.",
            "cookie authentication without X-Requested-With on " .. method,
            "Send 'X-Requested-With: XMLHttpRequest' (or use the Authorization header).")
    end
    local postgrest = to_postgrest(uri)
    if claims and postgrest and clock_offset ~= 0 then
        ngx.req.set_header("Authorization", "Bearer " .. real_clock_token(claims))
    elseif claims and source == "cookie" then
        ngx.req.set_header("Authorization", "Bearer " .. token)
    end
    if postgrest and not safe_methods[method] then
        -- the body first (nginx would read it before proxying anyway): a client that is slow to send it
        -- waits without holding a turn, so a few slow clients cannot hold up everyone
        check_body()
    end
    if postgrest and slots_per_worker > 0 then
        postgrest_slots = postgrest_slots or semaphore.new(slots_per_worker)
        local ok = postgrest_slots:wait(QUEUE_SECONDS)
        if not ok then
            ngx.header["Retry-After"] = 1
            return send_error(503, "MBS01", "The service is busy right now.",
                string.format("no turn at the API within %d s", QUEUE_SECONDS), "Try again in a few seconds.")
        end
        -- in an nginx variable, not ngx.ctx: nginx empties ngx.ctx when it sends the request on to an error
        -- page (PostgREST unreachable: 502 -> @unavailable), where the turn must still be given back
        ngx.var.mbt_postgrest_turn = "1"
    end
    -- PostgREST's answer goes through postgrest_answers (errors in our shape, the OpenAPI document);
    -- set last: the gateway's own errors above are answered as they are
    ngx.ctx.postgrest = postgrest
end

-- after the response (or the client's going away): the request's turn at PostgREST is over
function M.log()
    if ngx.var.mbt_postgrest_turn == "1" then
        ngx.var.mbt_postgrest_turn = ""
        postgrest_slots:post(1)
    end
end

function M.header_filter()
    local ctx = ngx.ctx
    if ctx.rate_limit then
        ngx.header["X-RateLimit-Limit"] = ctx.rate_limit
        ngx.header["X-RateLimit-Remaining"] = ctx.rate_remaining
        ngx.header["X-RateLimit-Reset"] = ctx.rate_reset
    end
    if ctx.postgrest then
        answers.header_filter(ctx)
    end
end

function M.body_filter()
    local ctx = ngx.ctx
    if ctx.postgrest_error or ctx.postgrest_openapi then
        answers.body_filter(ctx)
    end
end

return M
