-- wrk script for `make bench`.
--   wrk ... -s bench/rotate_tokens.lua <url> -- <tokens file> [<Accept header>]
-- Every request carries the next of the bench users' access tokens (one per line in the file), so
-- the load is spread over all of them and no user reaches its per-minute budget at the gateway.
-- The requests are formatted once per thread in init(); request() only hands out the next one.
-- done() prints the figures as "mbt-bench <name> <value>" lines for bench/__main__.py to parse.

local threads = 0

function setup(thread)
    thread:set("thread_index", threads)
    threads = threads + 1
end

local prepared = {}
local next_index = 0

function init(args)
    local tokens_file, accept = args[1], args[2]
    assert(tokens_file, "usage: wrk ... -s rotate_tokens.lua <url> -- <tokens file> [<Accept header>]")
    for token in io.lines(tokens_file) do
        if token ~= "" then
            local headers = { Authorization = "Bearer " .. token }
            if accept and accept ~= "" then
                headers["Accept"] = accept
            end
            prepared[#prepared + 1] = wrk.format("GET", nil, headers)
        end
    end
    assert(#prepared > 0, "no tokens in " .. tokens_file)
    -- the threads start half-way round from each other, so they do not hit the same users together
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
    line("bytes", summary.bytes)
    for _, kind in ipairs({ "connect", "read", "write", "status", "timeout" }) do
        line("errors_" .. kind, summary.errors[kind])
    end
    line("latency_mean_us", string.format("%.1f", latency.mean))
    line("latency_max_us", latency.max)
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        line("latency_p" .. p .. "_us", latency:percentile(p))
    end
end
