-- What the gateway changes in PostgREST's answers (gateway.lua calls it from nginx's header and body filters).
--
-- 1. Errors. MBT's own errors (codes MB..., raised in SQL by mbt.raise_error) pass unchanged. Every other
--    error PostgREST answers with is PostgREST's own (PGRSTnnn: a query string it cannot parse, a call with
--    arguments no function takes, ...) or PostgreSQL's (a SQLSTATE: a value of the wrong type, a field that
--    does not exist, ...), worded by them and naming their internals ("invalid input syntax for type uuid",
--    "column orders.x does not exist", "Could not find the function ... in the schema cache"). It is
--    rewritten here into a catalogued code (docs/errors.md) with MBT's {code, message, details, hint},
--    built from the parts of the error we recognise (a value, a type, a field), never from its text.
--    The status is decided in the header filter, before the body has arrived, from PostgREST's status
--    alone (STATUS); the code in the body filter, from PostgREST's code, among the codes of that status.
--    Statuses the table changes (400, 416 -> 422; 504 -> 503; any other not in it -> 500) are ones no
--    code mbt.raise_error sends has: MBT's 400s (MBV01, MBV08) are the gateway's own, answered before
--    PostgREST is asked.
-- 2. The OpenAPI document (GET /api/): PostgREST describes every view as an array of rows, /account too;
--    the gateway answers GET /api/account with one object (nginx.conf.in sets its Accept), and the
--    document here says so.
local cjson = require "cjson.safe"

local M = {}

-- PostgREST's status -> ours; a status not here becomes 500
local STATUS = {
    [400] = 422, [401] = 401, [403] = 403, [404] = 404, [405] = 405, [406] = 406, [409] = 409, [413] = 413,
    [415] = 415, [416] = 422, [422] = 422, [429] = 429, [500] = 500, [503] = 503, [504] = 503,
}

-- PostgreSQL's type names as a caller would say them
local TYPES = {
    uuid = "an id (a uuid)",
    integer = "a whole number", bigint = "a whole number", smallint = "a whole number",
    numeric = "a number",
    boolean = "true or false",
    ["timestamp with time zone"] = "a time (RFC 3339, e.g. 2026-12-07T14:30:00Z)",
    date = "a date (YYYY-MM-DD)",
    ["date/time"] = "a valid date (YYYY-MM-DD) or time (RFC 3339)",
    jsonb = "JSON", json = "JSON",
}

local TYPE_HINT = "Check the value: ids are uuids, times RFC 3339, quantities and prices numbers; "
    .. "GET /api/ (the OpenAPI document) gives every argument's and field's type."
local QUERY_HINT = "A filter is field=test.value (tests eq, neq, gt, gte, lt, lte, like, in), "
    .. "e.g. ?status=eq.filled&order=created_at.desc&limit=50; GET /api/ lists each resource's fields."

local function clip(s)
    if #s > 100 then
        return s:sub(1, 100) .. "..."
    end
    return s
end

local function answer(code, message, details, hint)
    return { code = code, message = message, details = details or cjson.null, hint = hint or cjson.null }
end

-- a value PostgreSQL could not take (SQLSTATE class 22, or a check of class 23): MBV03
local function invalid_value(pg_code, text)
    local type_name, value = text:match('^invalid input syntax for type (.-): "(.*)"$')
    if not value then
        value = text:match('^date/time field value out of range: "(.*)"$')
        type_name = value and "date/time"
    end
    if value then
        local must_be = TYPES[type_name] or "of the type it must be"
        return answer("MBV03", string.format('"%s" is not %s.', clip(value), must_be), "value = " .. clip(value),
            TYPE_HINT)
    end
    value = text:match('^value "(.*)" is out of range for type')
    if value or pg_code == "22003" then
        return answer("MBV03", "A number in the request is too large" .. (value and (": " .. clip(value)) or "") .. ".",
            value and ("value = " .. clip(value)), "Send a smaller number.")
    end
    if pg_code == "22P05" or pg_code == "22021" then
        return answer("MBV03", "A text in the request holds a character that cannot be stored (NUL, \\u0000).", nil,
            "Remove control characters from the text.")
    end
    if pg_code == "22001" then
        return answer("MBV03", "A text in the request is too long.", nil, "Send a shorter text.")
    end
    return answer("MBV03", "A value in the request cannot be used.", nil, TYPE_HINT)
end

-- a query string PostgREST could not use: MBV09
local function invalid_query(pg_code, text, pg)
    local query = ngx.var.args and ("?" .. ngx.unescape_uri(ngx.var.args)) or nil
    local message, hint = "The query string cannot be used as sent.", QUERY_HINT
    local part, what = text:match('failed to parse (.-) %((.*)%)"')
    local field = text:match("^column [%w_]+%.([%w_]+) does not exist$")
    if part then
        message = string.format("The query string's %s cannot be read: %s.", part, clip(what))
    elseif field then
        message = string.format("%s has no field '%s'.", ngx.var.uri, field)
    elseif pg_code == "PGRST200" then
        local from, to = text:match("between '([%w_]+)' and '([%w_]+)'")
        message = from and string.format("The select embeds '%s', which /api/%s has no link to.", to, from)
            or "The select embeds something this resource has no link to."
    elseif pg_code == "PGRST103" then
        message = "The range asked for cannot be served."
        hint = "limit and offset are 0 or more; a Range header's first row is at most its last."
    elseif pg_code == "PGRST122" then
        message = "The Prefer header holds a preference the API does not know."
        hint = "Leave it out, or leave out handling=strict."
        query = type(pg.details) == "string" and clip((pg.details:gsub("^Invalid preferences: ", "Prefer: "))) or query
    end
    return answer("MBV09", message, query, hint)
end

-- the arguments of a call no function takes, from PostgREST's PGRST202: MBN01
local function no_such_call(text, pg)
    local name, args = text:match("function api%.([%w_]+)%((.-)%)")
    if not name then
        name = text:match("function api%.([%w_]+) without parameters")
    end
    if not name then  -- e.g. Prefer: params=single-object
        return answer("MBN01", "No call " .. ngx.var.uri .. " takes the arguments as they were sent.", nil,
            "Send the arguments as one JSON object of named fields, without Prefer: params.")
    end
    local meant = type(pg.hint) == "string" and pg.hint:match("api%.([%w_]+)")
    local hint = "GET /api/ (the OpenAPI document) lists every call with its arguments."
    if meant and meant ~= name then
        hint = "Did you mean /api/rpc/" .. meant .. "? " .. hint
    end
    if not args then
        return answer("MBN01", string.format("There is no call /api/rpc/%s without arguments.", name),
            "arguments sent: none", hint)
    end
    return answer("MBN01", string.format("No call /api/rpc/%s takes the arguments %s.", name, args),
        "arguments sent: " .. args, hint)
end

local function rewrite(status, pg)
    local pg_code = type(pg.code) == "string" and pg.code or ""
    local text = type(pg.message) == "string" and pg.message or ""
    local uri, method = ngx.var.uri, ngx.req.get_method()
    if status == 422 then
        if pg_code == "PGRST102" then
            return answer("MBV03", "The request body must be one JSON object.", nil, 'Send e.g. {"status": "all"}.')
        elseif pg_code:match("^PGRST") or pg_code:match("^42") then
            return invalid_query(pg_code, text, pg)
        end
        return invalid_value(pg_code, text)
    elseif status == 401 then
        if pg_code:match("^PGRST3") then
            return answer("MBA08", "Your access token is not valid.", nil,
                "Refresh it (POST /api/sessions/refresh) or log in again (POST /api/sessions/login).")
        end
        return answer("MBA08", "Sign in first: " .. uri .. " is for signed-in callers.", nil,
            "Log in (POST /api/sessions/login) and send 'Authorization: Bearer <access_token>'.")
    elseif status == 403 then
        return answer("MBA13", "You may not use " .. uri .. ".", nil,
            "GET /api/ (the OpenAPI document) lists what you can use.")
    elseif status == 404 then
        if pg_code == "PGRST202" then
            return no_such_call(text, pg)
        elseif pg_code == "42883" then
            return answer("MBN01", "A filter in the query does not apply to the type of the field it names.",
                ngx.var.args and ("?" .. ngx.unescape_uri(ngx.var.args)), QUERY_HINT)
        end
        return answer("MBN01", "There is nothing at " .. uri .. ".", nil,
            "GET /api/ (the OpenAPI document) lists every resource and call.")
    elseif status == 405 then
        if pg_code == "25006" then
            return answer("MBN02", method .. " is not allowed on " .. uri .. ": the call changes data.", nil,
                "Use POST.")
        end
        return answer("MBN02", method .. " is not allowed on " .. uri .. ".", nil,
            "Calls take POST (and GET for those that only read).")
    elseif status == 406 then
        if pg_code == "PGRST116" then
            local rows = type(pg.details) == "string" and pg.details:match("(%d+) rows") or "several"
            local hint = uri == "/api/account" and "GET /api/account answers your one account: leave out filters."
                or "Leave out the Accept header for a list, or filter down to one row."
            return answer("MBN03", string.format("One object was asked for, and %s rows matched.", rows), nil, hint)
        end
        return answer("MBN03", "The API has one schema, api.", nil, "Leave out Accept-Profile and Content-Profile.")
    elseif status == 409 then
        return answer("MBS03", "Another request changed the same data at the same moment; this one changed nothing.",
            nil, "Send it again.")
    elseif status == 413 then
        return answer("MBV02", "The request is too large.", nil, "Send less.")
    elseif status == 415 then
        if pg_code == "PGRST107" then
            return answer("MBV07", "The API cannot answer in the media type asked for.",
                "Accept: " .. clip(ngx.var.http_accept or ""),
                "Ask for application/json (lists also text/csv), or leave Accept out.")
        end
        return answer("MBV07", "The request body must be JSON.", nil,
            "Send the header 'Content-Type: application/json'.")
    elseif status == 503 then
        return answer("MBS01", "The service is busy right now.", nil, "Try again in a few seconds.")
    end
    return answer("MBS02", "Something went wrong on our side; nothing was changed.", nil,
        "Try again; if it keeps happening, tell us the time of the request.")
end

-- the header filter of a response from PostgREST: sets our status, and says what the body filter must do
function M.header_filter(ctx)
    local status = ngx.status
    if status >= 400 then
        ctx.postgrest_error = true
        status = STATUS[status] or 500
        ngx.status = status
        ngx.header["Content-Type"] = "application/json; charset=utf-8"
        ngx.header["Content-Length"] = nil
        if status == 405 then
            ngx.header["Allow"] = ngx.req.get_method() == "GET" and "POST" or "GET, POST"
        end
    elseif status == 200 and ngx.var.uri == "/api/" and ngx.req.get_method() == "GET" then
        ctx.postgrest_openapi = true
        ngx.header["Content-Length"] = nil
    end
end

-- the body as PostgREST sent it -> the body the caller gets
local function rewrite_error(body)
    local pg = cjson.decode(body)
    if type(pg) ~= "table" then
        pg = {}
    elseif type(pg.code) == "string" and pg.code:match("^MB") then
        return body
    end
    -- (lua-cjson writes "/" as "\/"; JSON does not need it, and paths read better without)
    return (cjson.encode(rewrite(ngx.status, pg)):gsub("\\/", "/")) .. "\n"
end

local ACCOUNT_AS_ARRAY = '"responses":{"200":{"description":"OK","schema":{"items":{"$ref":"#/definitions/account"},'
    .. '"type":"array"}},"206":{"description":"Partial Content"}}'
local ACCOUNT_AS_OBJECT = '"responses":{"200":{"description":"OK: your account, one object (as Alpaca\'s GET '
    .. '/v2/account)","schema":{"$ref":"#/definitions/account"}}}'

local function patch_openapi(body)
    local from, to = body:find(ACCOUNT_AS_ARRAY, 1, true)
    if not from then
        return body
    end
    return body:sub(1, from - 1) .. ACCOUNT_AS_OBJECT .. body:sub(to + 1)
end

-- the body filter: collects the body of a response the header filter marked, and rewrites it whole
function M.body_filter(ctx)
    local chunk, eof = ngx.arg[1], ngx.arg[2]
    local parts = ctx.postgrest_body or {}
    ctx.postgrest_body = parts
    parts[#parts + 1] = chunk
    if not eof then
        ngx.arg[1] = nil
        return
    end
    local body = table.concat(parts)
    ctx.postgrest_body = nil
    if ctx.postgrest_error then
        ngx.arg[1] = rewrite_error(body)
    else
        ngx.arg[1] = patch_openapi(body)
    end
end

return M
