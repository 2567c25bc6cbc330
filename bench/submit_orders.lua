-- wrk script for `make bench`, order submission through the gateway.
--   wrk ... -s bench/submit_orders.lua <gateway>/api/rpc/submit_order -- <tokens file> <symbols, comma-separated>
-- Every request is a POST of a small resting limit order ($10 x 1 share) as the next of the bench users
-- (one access token per line in the file), on the next symbol, so the load is spread over all users and
-- no user reaches its per-minute budget. Requests are formatted once per thread in init().
-- done() prints the figures as "mbt-bench <name> <value>" lines for bench/submit.py to parse.

local threads = 0

function setup(thread)
    thread:set("thread_index", threads)
    threads = threads + 1
end

local prepared = {}
local next_index = 0

function init(args)
    local tokens_file, symbols_arg = args[1], args[2]
    assert(tokens_file and symbols_arg, "usage: wrk ... -s submit_orders.lua <url> -- <tokens file> <symbols>")
    local symbols = {}
    for symbol in string.gmatch(symbols_arg, "[^,]+") do
        symbols[#symbols + 1] = symbol
    end
    local n = 0
    for token in io.lines(tokens_file) do
        if token ~= "" then
            local symbol = symbols[n % #symbols + 1]
            n = n + 1
            local body = string.format('{"symbol":"%s","qty":1,"side":"buy","type":"limit",'
                .. '"limit_price":"10.00","time_in_force":"gtc"}', symbol)
            local headers = { Authorization = "Bearer " .. token, ["Content-Type"] = "application/json" }
            prepared[#prepared + 1] = wrk.format("POST", nil, headers, body)
        end
    end
    assert(#prepared > 0, "no tokens in " .. tokens_file)
    next_index = (thread_index or 0) * math.floor(#prepared / 2)
end

function request()
    next_index = next_index % #prepared + 1
    return prepared[next_index]
end

function done(summary, latency, _)
    local function line(name, value)
        io.write(string.format("mbt-bench %s %s\n", name, value))
    end
    line("requests", summary.requests)
    line("duration_us", summary.duration)
    for _, kind in ipairs({ "connect", "read", "write", "status", "timeout" }) do
        line("errors_" .. kind, summary.errors[kind])
    end
    line("latency_mean_us", string.format("%.1f", latency.mean))
    line("latency_max_us", latency.max)
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        line("latency_p" .. p .. "_us", latency:percentile(p))
    end
end
