-- bench/chaos.lua - the catalogue load of bench/chaos, for wrk.
--
--   wrk ... -s bench/chaos.lua http://127.0.0.1:PORT -- \
--       KEY SECRET HOT MISS_EVERY SIGN_EVERY [TAG]
--
-- Each request reads /1.2/release/details:
--   hot     releaseId 1..HOT with the partner's key in the query: after
--           the warm-up, cache hits
--   miss    every MISS_EVERY-th request, a releaseId never asked before
--           (m<TAG>-<thread>-<n>): a miss, and a request to the origin
--   signed  every SIGN_EVERY-th request, a hot releaseId signed by the
--           partner (OAuth 1.0 HMAC-SHA1 in the Authorization header, a
--           fresh nonce each time): a signed hit, whose nonce the gateway
--           records
-- 0 turns misses or signed requests off.  A 200 whose body is not a
-- 7digital answer (<response status="ok") is counted as "bad" and printed
-- by done(), with the statuses wrk does not break down.

local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local lshift, rshift, rol, tobit = bit.lshift, bit.rshift, bit.rol, bit.tobit

-- SHA-1 (FIPS 180-4) and HMAC (RFC 2104): wrk's LuaJIT has neither

local function be32(h)
    return string.char(band(rshift(h, 24), 255), band(rshift(h, 16), 255),
                       band(rshift(h, 8), 255), band(h, 255))
end

local function sha1(msg)
    local h0, h1, h2, h3, h4 = tobit(0x67452301), tobit(0xEFCDAB89),
        tobit(0x98BADCFE), tobit(0x10325476), tobit(0xC3D2E1F0)
    local len = #msg
    msg = msg .. "\128" .. string.rep("\0", (55 - len) % 64)
          .. "\0\0\0\0" .. be32(len * 8)
    local w = {}
    for chunk = 1, #msg, 64 do
        for i = 0, 15 do
            local a, b, c, d = msg:byte(chunk + i * 4, chunk + i * 4 + 3)
            w[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
        end
        for i = 16, 79 do
            w[i] = rol(bxor(w[i - 3], w[i - 8], w[i - 14], w[i - 16]), 1)
        end
        local a, b, c, d, e = h0, h1, h2, h3, h4
        for i = 0, 79 do
            local f, k
            if i < 20 then
                f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
            elseif i < 40 then
                f, k = bxor(b, c, d), 0x6ED9EBA1
            elseif i < 60 then
                f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8F1BBCDC
            else
                f, k = bxor(b, c, d), 0xCA62C1D6
            end
            local t = tobit(rol(a, 5) + f + e + k + w[i])
            e, d, c, b, a = d, c, rol(b, 30), a, t
        end
        h0, h1, h2 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c)
        h3, h4 = tobit(h3 + d), tobit(h4 + e)
    end
    return be32(h0) .. be32(h1) .. be32(h2) .. be32(h3) .. be32(h4)
end

local function hmac_sha1(key, msg)
    if #key > 64 then key = sha1(key) end
    key = key .. string.rep("\0", 64 - #key)
    local ipad = key:gsub(".", function(c) return string.char(bxor(c:byte(), 0x36)) end)
    local opad = key:gsub(".", function(c) return string.char(bxor(c:byte(), 0x5c)) end)
    return sha1(opad .. sha1(ipad .. msg))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
    local out = {}
    for i = 1, #s, 3 do
        local a, b, c = s:byte(i, i + 2)
        local n = lshift(a, 16) + lshift(b or 0, 8) + (c or 0)
        local q = {}
        for j = 1, 4 do
            local v = band(rshift(n, 6 * (4 - j)), 63) + 1
            q[j] = B64:sub(v, v)
        end
        if not b then q[3] = "=" end
        if not c then q[4] = "=" end
        out[#out + 1] = table.concat(q)
    end
    return table.concat(out)
end

local function enc(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c)
        return string.format("%%%02X", c:byte())
    end))
end

-- the threads, numbered, for nonces and miss ids that never repeat

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

local key, secret, hot, miss_every, sign_every, tag, origin
local n, bad, statuses = 0, 0, {}

function init(args)
    key, secret = args[1], args[2]
    hot = tonumber(args[3])
    miss_every, sign_every = tonumber(args[4]), tonumber(args[5])
    tag = args[6] or "0"
    origin = "http://" .. wrk.headers["Host"]
    math.randomseed(os.time() * 100 + tid)
    if args[7] == "selftest" then
        -- RFC 2202 test case 2, and a signature oauthlib agrees with
        print(base64(hmac_sha1("Jefe", "what do ya want for nothing?")))
        os.exit(0)
    end
end

local PATH = "/1.2/release/details"

local function signed(release)
    local p = {
        oauth_consumer_key = key,
        oauth_nonce = string.format("%d%d%08x", tid, n, math.random(0, 0x7fffffff)),
        oauth_signature_method = "HMAC-SHA1",
        oauth_timestamp = tostring(os.time()),
        oauth_version = "1.0",
        releaseId = tostring(release),
    }
    local names = {}
    for k in pairs(p) do names[#names + 1] = k end
    table.sort(names)
    local pairs_ = {}
    for _, k in ipairs(names) do pairs_[#pairs_ + 1] = enc(k) .. "=" .. enc(p[k]) end
    local base = "GET&" .. enc(origin .. PATH) .. "&" .. enc(table.concat(pairs_, "&"))
    local sig = base64(hmac_sha1(enc(secret) .. "&", base))
    local auth = string.format('OAuth oauth_consumer_key="%s", oauth_nonce="%s", '
        .. 'oauth_signature="%s", oauth_signature_method="HMAC-SHA1", '
        .. 'oauth_timestamp="%s", oauth_version="1.0"',
        enc(key), enc(p.oauth_nonce), enc(sig), p.oauth_timestamp)
    return wrk.format("GET", PATH .. "?releaseId=" .. release, { Authorization = auth })
end

function request()
    n = n + 1
    local release = math.random(1, hot)
    if miss_every > 0 and n % miss_every == 0 then
        return wrk.format("GET", string.format("%s?releaseId=m%s-%d-%d&oauth_consumer_key=%s",
                                               PATH, tag, tid, n, enc(key)))
    end
    if sign_every > 0 and n % sign_every == 1 then
        return signed(release)
    end
    return wrk.format("GET", PATH .. "?releaseId=" .. release .. "&oauth_consumer_key=" .. enc(key))
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 200 and not body:find('<response status="ok"', 1, true) then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local total_bad, by_status = 0, {}
    for _, t in ipairs(threads) do
        total_bad = total_bad + (t:get("bad") or 0)
        for s, c in pairs(t:get("statuses") or {}) do
            by_status[s] = (by_status[s] or 0) + c
        end
    end
    local parts = {}
    for s, c in pairs(by_status) do parts[#parts + 1] = s .. "=" .. c end
    table.sort(parts)
    io.write(string.format("chaos: bad=%d statuses=%s max_us=%d\n", total_bad,
                           table.concat(parts, ","), latency.max))
end
