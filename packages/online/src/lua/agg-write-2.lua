--[[
  agg-write-2.lua: one entity's part of a Write to an event view with window aggregations
  (docs/design/window-aggregations.md §3.3; the online event-write contract in core's
  online-store.ts), atomically: the LWW row, the dedup set, the fold of the events into the tile
  lists, the lifetime IR, the variable tile lists and the last-n lists, the pending list, pruning,
  and expiry. Byte for byte what core's TS twin gives (applyEntityEvents and the encodings in
  core/src/aggregation/); a differential test on the cluster keeps the two equal.

  This file is the body of a Redis Functions library, not a script on its own (agg-write-script.ts
  builds the library): lww-write-1.lua's text up to its "end of lww_write" marker (so the LWW rule is
  one text), this file, then the registration of `agg_write` under a name that carries a hash of the
  library's text. The top level runs once, at FUNCTION LOAD; a call runs `agg_write` only, and the
  layout of each opcode string is parsed once and kept (EVAL ran the whole chunk on every call:
  ~25 µs of closures, opcode parsing and layout tables before any work). Per-call state lives in the
  upvalues below, set at the start of every call (Redis runs one call at a time).

  KEYS[1]  the entity hash (LWW row, aggregation fields `<field>.g<G>.<name>`, `<field>.pend`)
  KEYS[2]  the dedup set of generation G (`<entity key>:d:<field>:g<G>`; same hash tag)
  KEYS[3]  with ARGV[11]: the dedup set of generation G+1 (same hash tag)
  ARGV[1..4]  as lww-write-1.lua: field, packed row, row retention ms (0 = persistent), now ms;
            an empty row = no LWW row (its reply is 3): a rebuild (ARGV[12]), or a grouped
            aggregation's call (design §1.8; ARGV[1] the group field `<fv>~<i>~<value>`)
  ARGV[5]  the plan's layout opcodes (agg-layout-opcodes.ts; format below)
  ARGV[6]  generation G
  ARGV[7]  acceptedAt ms (the fold's now)
  ARGV[8]  allowed lateness L ms
  ARGV[9]  dedup margin ms (60 s)
  ARGV[10] retention of the aggregation fields after the newest event, ms (0 = persistent)
  ARGV[11] '' or G+1: a rebuild G → G+1 runs (design §3.6 step 1, dual write): an event whose fp is
           in either set is a duplicate; every other one goes into both sets and both generations
  ARGV[12] '' or the `ok` marker field of a rebuild (§3.6 step 3): when it exists the call changes
           nothing and answers { -1 }; else the events (the snapshot) fold into what G holds and
           the marker is stored with the fields
  ARGV[13…] the entity's event records (core event-record.ts), in batch order

  Returns { LWW reply (as lww-write-1.lua; 3 without a row), per event '0' taken / '1' duplicate
  answered G / '2' duplicate answered G+1, duplicates }.
  The pending list of generation g is `<field>.pend` for g = 1, `<field>.g<g>.pend` after.

  Layout opcodes, little-endian f64 numbers (input positions 0-based in the record's inputs; field
  names are derived from the numbers as core spells them):
    2 k type*k  nHll inputPos*nHll
    nHops { hopMillis pruneWindowMillis LAYOUT }*
    hasLife(0|1) [LAYOUT]
    nLastN { inputStorageIndex inputPos n }*
    nVar { kind(1 hll, 2 last string) specIndex inputPos hllPos precision hopMillis windowMillis }*
  LAYOUT = recordBytes presenceBytes nSlots { kind inputPos valueKind presenceBit }*
  types: 1 int64, 2 double, 3 string, 4 bool, 5 timestamp. Slot kinds and value kinds as
  core's layout.ts (slots contiguous, in order).

  Never `<` on strings (strcoll): fingerprints are compared as four big-endian uint32.
]]

-- Per call, set by agg_write before anything reads them.
local key, dkey, dkeyNext, viewField, gen, now, lateness, margin, aggRetention, nextGen, marker
-- The call's layout (a cached parse of its opcodes; useLayout sets them).
local k, inputTypes, nHll, hllInput, hops, life, lastNs, vars, nullBytes
-- The generation being folded (readGeneration sets them): its field prefix, pending list, fields.
local prefix, pendField, stored
-- Everything is decided in memory first and written at the end, so an error (a malformed record
-- or field) leaves the entity untouched: Redis does not roll a script back.
local FIRST_EVENT = 13

-- Redis 7.0 runs a library's top level with `redis` as its only global: the libraries are taken
-- on the first call (libs).
local pack, sunpack, band, bor, floor, huge
local function libs()
  pack = struct.pack
  sunpack = struct.unpack
  band = bit.band
  bor = bit.bor
  floor = math.floor
  huge = math.huge
end

local function fail(message)
  error({ err = 'ERR tessera agg-write: ' .. message })
end

-- Slot kinds and value kinds (core layout.ts).
local COUNT, NONNULL, SUM, MIN, MAX, MIN_TS, MAX_TS, LAST = 0, 1, 2, 3, 4, 5, 6, 7
local F64, I64 = 0, 1
local T_STRING = 3
local TWO32 = 4294967296
local TWO31 = 2147483648

-- Layout opcodes: little-endian doubles, read by one struct.unpack (a text format cost ~20 µs a call).
local ops, nOps, cur
local function nextNum()
  cur = cur + 1
  if cur > nOps then
    fail('layout opcodes end early')
  end
  return ops[cur]
end

-- Field names as core's entity-state.ts spells them: `t<hop in base-36 minutes>`, `.a<i>`, `n<input>`.
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function hopName(hopMillis)
  local x = hopMillis / 60000
  local out = ''
  repeat
    local d = x % 36
    out = string.sub(DIGITS, d + 1, d + 1) .. out
    x = (x - d) / 36
  until x == 0
  return 't' .. out
end

local function readLayout()
  local L = { recordBytes = nextNum(), presenceBytes = nextNum(), slots = {} }
  local nSlots = nextNum()
  local fmt = { '<' }
  local empty = {}
  for i = 1, L.presenceBytes do
    fmt[#fmt + 1] = 'B'
    empty[#empty + 1] = 0
  end
  for i = 1, nSlots do
    local s = { kind = nextNum(), input = nextNum() + 1, vk = nextNum(), bit = nextNum() }
    s.at = #empty + 1
    if s.kind == LAST then
      fmt[#fmt + 1] = 'dc16c8'
      empty[#empty + 1] = 0
      empty[#empty + 1] = string.rep('\0', 16)
      empty[#empty + 1] = string.rep('\0', 8)
    elseif (s.kind == SUM or s.kind == MIN or s.kind == MAX) and s.vk == I64 then
      fmt[#fmt + 1] = 'I4i4'
      empty[#empty + 1] = 0
      empty[#empty + 1] = 0
    elseif (s.kind == MIN or s.kind == MAX) and s.vk ~= F64 then
      fail('min/max of a bool')
    else
      fmt[#fmt + 1] = 'd'
      if s.kind == MIN_TS then
        empty[#empty + 1] = huge
      elseif s.kind == MAX_TS then
        empty[#empty + 1] = -huge
      else
        empty[#empty + 1] = 0
      end
    end
    L.slots[i] = s
  end
  L.fmt = table.concat(fmt)
  L.nvals = #empty
  L.empty = empty
  return L
end

-- The parsed layout of one opcode string: tables that calls only read.
local function parseLayout(opsBlob)
  if #opsBlob % 8 ~= 0 or #opsBlob == 0 then
    fail('layout opcodes are not whole doubles')
  end
  ops = { sunpack('<' .. string.rep('d', #opsBlob / 8), opsBlob) }
  nOps = #opsBlob / 8
  cur = 0
  if nextNum() ~= 2 then
    fail('unknown layout opcode format')
  end
  local P = { inputTypes = {}, hllInput = {}, hops = {}, lastNs = {}, vars = {} }
  P.k = nextNum()
  for i = 1, P.k do
    P.inputTypes[i] = nextNum()
  end
  P.nHll = nextNum()
  for i = 1, P.nHll do
    P.hllInput[i] = nextNum() + 1
  end
  local hops = P.hops
  for i = 1, nextNum() do
    local hop = nextNum()
    hops[i] = { name = hopName(hop), hop = hop, pruneWindow = nextNum() }
    hops[i].L = readLayout()
  end
  if nextNum() == 1 then
    P.life = { name = 'life', L = readLayout() }
  end
  local lastNs = P.lastNs
  for i = 1, nextNum() do
    lastNs[i] = { name = 'n' .. string.format('%d', nextNum()), input = nextNum() + 1, n = nextNum() }
  end
  local vars = P.vars
  for i = 1, nextNum() do
    local v = { kind = nextNum(), spec = nextNum(), input = nextNum() + 1, hll = nextNum() + 1 }
    v.precision = nextNum()
    v.hop = nextNum()
    v.window = nextNum()
    v.name = (v.window == 0 and 'life' or hopName(v.hop)) .. '.a' .. string.format('%d', v.spec)
    vars[i] = v
  end
  P.nullBytes = floor((P.k + 7) / 8)
  ops = nil
  return P
end

-- Parsed layouts by opcode string, for the library's lifetime; at most LAYOUTS_KEPT (then it starts
-- over), so a stream of distinct plans cannot grow the Lua heap without bound.
local LAYOUTS_KEPT = 256
local layouts, layoutCount = {}, 0
local function useLayout(opsBlob)
  local P = layouts[opsBlob]
  if not P then
    P = parseLayout(opsBlob)
    if layoutCount >= LAYOUTS_KEPT then
      layouts, layoutCount = {}, 0
    end
    layouts[opsBlob] = P
    layoutCount = layoutCount + 1
  end
  k, inputTypes, nHll, hllInput = P.k, P.inputTypes, P.nHll, P.hllInput
  hops, life, lastNs, vars, nullBytes = P.hops, P.life, P.lastNs, P.vars, P.nullBytes
end

-- Every field of generation g, read once (pruning looks at the fields no event touches too).
local function readGeneration(g)
  prefix = viewField .. '.g' .. g .. '.'
  pendField = g == '1' and viewField .. '.pend' or prefix .. 'pend'
  local names = {}
  for _, h in ipairs(hops) do
    names[#names + 1] = prefix .. h.name
  end
  if life then
    names[#names + 1] = prefix .. life.name
  end
  for _, l in ipairs(lastNs) do
    names[#names + 1] = prefix .. l.name
  end
  for _, v in ipairs(vars) do
    names[#names + 1] = prefix .. v.name
  end
  names[#names + 1] = pendField
  local got = redis.call('HMGET', key, unpack(names))
  stored = {}
  for i = 1, #names do
    if got[i] then
      stored[names[i]] = got[i]
    end
  end
end
-- (ts, fp) order: ts first, then the 16 fp bytes as unsigned big-endian words.
local function compareEvent(tsA, fpA, tsB, fpB)
  if tsA ~= tsB then
    return tsA < tsB and -1 or 1
  end
  local a1, a2, a3, a4 = sunpack('>I4I4I4I4', fpA)
  local b1, b2, b3, b4 = sunpack('>I4I4I4I4', fpB)
  if a1 ~= b1 then
    return a1 < b1 and -1 or 1
  end
  if a2 ~= b2 then
    return a2 < b2 and -1 or 1
  end
  if a3 ~= b3 then
    return a3 < b3 and -1 or 1
  end
  if a4 ~= b4 then
    return a4 < b4 and -1 or 1
  end
  return 0
end

-- An event record: ts, fp, per input position its value bytes (strings with their u32 length),
-- string values, HLL codes by approx_distinct position.
local function decodeEvent(s)
  local ev = { ts = sunpack('<d', s, 1), fp = string.sub(s, 9, 24), raw = {}, str = {}, codes = {} }
  local at = 25 + nullBytes
  for i = 1, k do
    local b = string.byte(s, 25 + floor((i - 1) / 8))
    if band(b, 2 ^ ((i - 1) % 8)) == 0 then
      if inputTypes[i] == T_STRING then
        local len = sunpack('<I4', s, at)
        ev.raw[i] = string.sub(s, at, at + 3 + len)
        ev.str[i] = string.sub(s, at + 4, at + 3 + len)
        at = at + 4 + len
      else
        ev.raw[i] = string.sub(s, at, at + 7)
        at = at + 8
      end
    end
  end
  for j = 1, nHll do
    if ev.raw[hllInput[j]] then
      ev.codes[j] = sunpack('<I4', s, at)
      at = at + 4
    end
  end
  return ev
end

local function tileIndexOf(ts, hop)
  local idx = (ts - ts % hop) / hop
  if idx > 2147483647 or idx < -2147483648 then
    fail('event time ' .. string.format('%.0f', ts) .. ' is outside the i32 tile index of hop ' .. hop)
  end
  return idx
end

local function pruneBelow(window, hop)
  local x = now - window - hop
  return (x - x % hop) / hop
end

-- Fixed-size records (core record.ts) as arrays of their struct values.
local function hasBit(r, b)
  return band(r[1 + floor(b / 8)], 2 ^ (b % 8)) ~= 0
end
local function setBit(r, b)
  local i = 1 + floor(b / 8)
  r[i] = bor(r[i], 2 ^ (b % 8))
end
local function newRecord(L)
  local r = {}
  for i = 1, L.nvals do
    r[i] = L.empty[i]
  end
  return r
end
local function decodeRecord(L, s, pos)
  local r = { sunpack(L.fmt, s, pos) }
  r[L.nvals + 1] = nil
  return r
end
local function encodeRecord(L, r)
  return pack(L.fmt, unpack(r, 1, L.nvals))
end

local function foldRecord(L, r, ev)
  for _, sl in ipairs(L.slots) do
    local a = sl.at
    local kind = sl.kind
    if kind == COUNT then
      r[a] = r[a] + 1
    elseif kind == MIN_TS then
      if ev.ts < r[a] then
        r[a] = ev.ts
      end
    elseif kind == MAX_TS then
      if ev.ts > r[a] then
        r[a] = ev.ts
      end
    else
      local v = ev.raw[sl.input]
      if v then
        if kind == NONNULL then
          r[a] = r[a] + 1
        elseif kind == SUM then
          if sl.vk == F64 then
            r[a] = r[a] + sunpack('<d', v)
          else
            -- int64 as two limbs (lo unsigned, hi signed), wrapping mod 2^64.
            local lo, hi = sunpack('<I4i4', v)
            lo = r[a] + lo
            local carry = 0
            if lo >= TWO32 then
              carry = 1
              lo = lo - TWO32
            end
            hi = r[a + 1] + hi + carry
            if hi >= TWO31 then
              hi = hi - TWO32
            elseif hi < -TWO31 then
              hi = hi + TWO32
            end
            r[a] = lo
            r[a + 1] = hi
          end
        elseif kind == LAST then
          if not (hasBit(r, sl.bit) and compareEvent(r[a], r[a + 1], ev.ts, ev.fp) >= 0) then
            r[a] = ev.ts
            r[a + 1] = ev.fp
            r[a + 2] = v
            setBit(r, sl.bit)
          end
        else
          -- MIN / MAX: replace when absent, or strictly smaller (min) / greater (max).
          local present = hasBit(r, sl.bit)
          if sl.vk == I64 then
            local lo, hi = sunpack('<I4i4', v)
            local c = 0
            if present then
              if hi ~= r[a + 1] then
                c = hi < r[a + 1] and -1 or 1
              elseif lo ~= r[a] then
                c = lo < r[a] and -1 or 1
              end
            end
            if not present or (kind == MIN and c < 0) or (kind == MAX and c > 0) then
              r[a] = lo
              r[a + 1] = hi
              setBit(r, sl.bit)
            end
          else
            local x = sunpack('<d', v)
            if not present or (kind == MIN and x < r[a]) or (kind == MAX and x > r[a]) then
              r[a] = x
              setBit(r, sl.bit)
            end
          end
        end
      end
    end
  end
end

-- Tile lists (core tile-list.ts): header u8 1, u8 0, u16 recordBytes, u32 records, f64 newest.
local function tileOpen(h)
  local s = stored[prefix .. h.name]
  local st = { s = s, n = 0, rb = 4 + h.L.recordBytes, newest = -huge, touched = {}, order = {}, dirty = false }
  if s then
    local format, _, rb, n, newest = sunpack('<BBHI4d', s)
    if format ~= 1 or rb ~= st.rb or #s ~= 16 + n * rb then
      fail('field ' .. prefix .. h.name .. ' is not a tile list of this layout')
    end
    st.n = n
    st.newest = newest
  end
  return st
end
local function tileLowerBound(st, idx)
  local lo, hi = 0, st.n
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if sunpack('<i4', st.s, 17 + mid * st.rb) < idx then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end
local function tileFold(h, st, ev)
  local idx = tileIndexOf(ev.ts, h.hop)
  local t = st.touched[idx]
  if not t then
    local p = tileLowerBound(st, idx)
    local at = 17 + p * st.rb
    if p < st.n and sunpack('<i4', st.s, at) == idx then
      t = { idx = idx, pos = p, existed = true, r = decodeRecord(h.L, st.s, at + 4) }
    else
      t = { idx = idx, pos = p, existed = false, r = newRecord(h.L) }
    end
    st.touched[idx] = t
    st.order[#st.order + 1] = t
  end
  foldRecord(h.L, t.r, ev)
  if ev.ts > st.newest then
    st.newest = ev.ts
  end
  st.dirty = true
end
-- The list's bytes after pruning tiles below minIndex; untouched runs are copied whole.
local function tileFinish(h, st, minIndex)
  if not st.s and not st.dirty then
    return nil
  end
  local drop = 0
  if st.s then
    drop = tileLowerBound(st, minIndex)
  end
  if not st.dirty then
    if drop == 0 then
      return st.s
    end
    return pack('<BBHI4d', 1, 0, st.rb, st.n - drop, st.newest) .. string.sub(st.s, 17 + drop * st.rb)
  end
  table.sort(st.order, function(x, y)
    return x.idx < y.idx
  end)
  local out = { '' }
  local count = st.n - drop
  local p = drop
  for _, t in ipairs(st.order) do
    if t.idx >= minIndex then
      if t.pos > p then
        out[#out + 1] = string.sub(st.s, 17 + p * st.rb, 16 + t.pos * st.rb)
        p = t.pos
      end
      out[#out + 1] = pack('<i4', t.idx) .. encodeRecord(h.L, t.r)
      if t.existed then
        p = t.pos + 1
      else
        count = count + 1
      end
    end
  end
  if st.s and p < st.n then
    out[#out + 1] = string.sub(st.s, 17 + p * st.rb)
  end
  out[1] = pack('<BBHI4d', 1, 0, st.rb, count, st.newest)
  return table.concat(out)
end

-- The lifetime IR: one record.
local function lifeOpen()
  local s = stored[prefix .. life.name]
  local st = { s = s, dirty = false }
  if s then
    if #s ~= life.L.recordBytes then
      fail('field ' .. prefix .. life.name .. ' is not a record of this layout')
    end
    st.r = decodeRecord(life.L, s, 1)
  else
    st.r = newRecord(life.L)
  end
  return st
end

-- Last-n lists (core last-n-list.ts): u8 n, u8 count, entries newest first: f64 ts, fp, value.
local function lastNOpen(l)
  local st = { s = stored[prefix .. l.name], parsed = false, dirty = false }
  return st
end
local function lastNParse(l, st)
  st.parsed = true
  st.entries = {}
  local s = st.s
  if not s then
    return
  end
  local count = string.byte(s, 2)
  local at = 3
  local isString = inputTypes[l.input] == T_STRING
  for e = 1, count do
    local ts = sunpack('<d', s, at)
    local len = 8
    if isString then
      len = 4 + sunpack('<I4', s, at + 24)
    end
    st.entries[e] = { ts = ts, fp = string.sub(s, at + 8, at + 23), raw = string.sub(s, at + 24, at + 23 + len) }
    at = at + 24 + len
  end
end
local function lastNFold(l, st, ev)
  local v = ev.raw[l.input]
  if not v then
    return
  end
  if not st.parsed then
    lastNParse(l, st)
  end
  local entries = st.entries
  local pos = 1
  while pos <= #entries do
    local c = compareEvent(entries[pos].ts, entries[pos].fp, ev.ts, ev.fp)
    if c == 0 then
      return
    end
    if c < 0 then
      break
    end
    pos = pos + 1
  end
  if pos > l.n then
    if not st.s then
      -- TS creates the empty list before it finds no room; n ≥ 1 makes this unreachable.
      st.dirty = true
    end
    return
  end
  table.insert(entries, pos, { ts = ev.ts, fp = ev.fp, raw = v })
  while #entries > l.n do
    entries[#entries] = nil
  end
  st.dirty = true
end
local function lastNFinish(l, st)
  if not st.dirty then
    return st.s
  end
  local out = { string.char(l.n, #st.entries) }
  for _, e in ipairs(st.entries) do
    out[#out + 1] = pack('<d', e.ts) .. e.fp .. e.raw
  end
  return table.concat(out)
end

-- HLL payloads (core variable-list.ts): u8 flags (1 = dense), sparse u32 codes by bucket or m bytes.
local function hllDecode(p)
  if not p then
    return { dense = false, codes = {} }
  end
  if band(string.byte(p, 1), 1) == 1 then
    local regs = {}
    local m = #p - 1
    local i = 1
    while i <= m do
      local j = math.min(m, i + 4095)
      local chunk = { string.byte(p, i + 1, j + 1) }
      for c = 1, #chunk do
        regs[i + c - 1] = chunk[c]
      end
      i = j + 1
    end
    return { dense = true, regs = regs }
  end
  local codes = {}
  for c = 1, (#p - 1) / 4 do
    codes[c] = sunpack('<I4', p, 2 + (c - 1) * 4)
  end
  return { dense = false, codes = codes }
end
local function hllAdd(o, m, code)
  local bucket = floor(code / 64)
  local rho = code % 64
  if o.dense then
    if rho > o.regs[bucket + 1] then
      o.regs[bucket + 1] = rho
    end
    return
  end
  local codes = o.codes
  local lo, hi = 1, #codes + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if floor(codes[mid] / 64) < bucket then
      lo = mid + 1
    else
      hi = mid
    end
  end
  if lo <= #codes and floor(codes[lo] / 64) == bucket then
    if codes[lo] % 64 < rho then
      codes[lo] = code
    end
    return
  end
  if (#codes + 1) * 4 >= m then
    local regs = {}
    for i = 1, m do
      regs[i] = 0
    end
    for _, c in ipairs(codes) do
      regs[floor(c / 64) + 1] = c % 64
    end
    if rho > regs[bucket + 1] then
      regs[bucket + 1] = rho
    end
    o.dense = true
    o.regs = regs
    o.codes = nil
    return
  end
  table.insert(codes, lo, code)
end
local function hllEncode(o)
  local out = {}
  if o.dense then
    out[1] = string.char(1)
    local m = #o.regs
    local i = 1
    while i <= m do
      local j = math.min(m, i + 4095)
      out[#out + 1] = string.char(unpack(o.regs, i, j))
      i = j + 1
    end
  else
    out[1] = string.char(0)
    for _, c in ipairs(o.codes) do
      out[#out + 1] = pack('<I4', c)
    end
  end
  return table.concat(out)
end

-- `last` of a string payload: f64 ts, fp, UTF-8.
local function lastStringFold(p, ev, str)
  if p and compareEvent(sunpack('<d', p, 1), string.sub(p, 9, 24), ev.ts, ev.fp) >= 0 then
    return p
  end
  return pack('<d', ev.ts) .. ev.fp .. str
end

-- Variable tile lists: records i32 tileIndex, u32 length, payload, by tile index.
local function varOpen(v)
  return { s = stored[prefix .. v.name], parsed = false, dirty = false }
end
local function varParse(st)
  st.parsed = true
  st.idx = {}
  st.payload = {}
  local s = st.s
  if not s then
    return
  end
  local at = 1
  while at <= #s do
    local idx, len = sunpack('<i4I4', s, at)
    st.idx[#st.idx + 1] = idx
    st.payload[#st.payload + 1] = string.sub(s, at + 8, at + 7 + len)
    at = at + 8 + len
  end
end
local function varFold(v, st, ev)
  local value = ev.raw[v.input]
  if not value then
    return
  end
  st.dirty = true
  if v.window == 0 then
    -- Unbounded: one payload, no list.
    if v.kind == 1 then
      if not st.obj then
        st.obj = hllDecode(st.s)
      end
      hllAdd(st.obj, 2 ^ v.precision, ev.codes[v.hll])
    else
      st.str = lastStringFold(st.str or st.s, ev, ev.str[v.input])
    end
    return
  end
  if not st.parsed then
    varParse(st)
  end
  local idx = tileIndexOf(ev.ts, v.hop)
  local pos = 1
  while pos <= #st.idx and st.idx[pos] < idx do
    pos = pos + 1
  end
  if pos > #st.idx or st.idx[pos] ~= idx then
    table.insert(st.idx, pos, idx)
    table.insert(st.payload, pos, false)
  end
  local p = st.payload[pos]
  if v.kind == 1 then
    if type(p) ~= 'table' then
      p = hllDecode(p or nil)
      st.payload[pos] = p
    end
    hllAdd(p, 2 ^ v.precision, ev.codes[v.hll])
  else
    st.payload[pos] = lastStringFold(p or nil, ev, ev.str[v.input])
  end
end
local function varFinish(v, st)
  if v.window == 0 then
    if not st.dirty then
      return st.s
    end
    if v.kind == 1 then
      return hllEncode(st.obj)
    end
    return st.str
  end
  local minIndex = pruneBelow(v.window, v.hop)
  if not st.dirty then
    local s = st.s
    if not s then
      return nil
    end
    local at = 1
    while at <= #s do
      local idx, len = sunpack('<i4I4', s, at)
      if idx >= minIndex then
        break
      end
      at = at + 8 + len
    end
    if at == 1 then
      return s
    end
    return string.sub(s, at)
  end
  local out = {}
  for i = 1, #st.idx do
    if st.idx[i] >= minIndex then
      local p = st.payload[i]
      if type(p) == 'table' then
        p = hllEncode(p)
      end
      out[#out + 1] = pack('<i4I4', st.idx[i], #p) .. p
    end
  end
  return table.concat(out)
end

local function formatMillis(x)
  return string.format('%.17g', x)
end

-- Steps 3–6 for generation g: fold the taken events, the pending events the clock has passed,
-- prune, and note every field whose bytes changed (and a pending list that became empty).
local function foldGeneration(g, taken, changed, emptied)
  readGeneration(g)
  local hopState = {}
  for i, h in ipairs(hops) do
    hopState[i] = tileOpen(h)
  end
  local lifeState = nil
  if life then
    lifeState = lifeOpen()
  end
  local lastNState = {}
  for i, l in ipairs(lastNs) do
    lastNState[i] = lastNOpen(l)
  end
  local varState = {}
  for i, v in ipairs(vars) do
    varState[i] = varOpen(v)
  end

  local function fold(ev)
    for i, h in ipairs(hops) do
      tileFold(h, hopState[i], ev)
    end
    if life then
      foldRecord(life.L, lifeState.r, ev)
      lifeState.dirty = true
    end
    for i, l in ipairs(lastNs) do
      lastNFold(l, lastNState[i], ev)
    end
    for i, v in ipairs(vars) do
      varFold(v, varState[i], ev)
    end
  end

  local added = {}
  for _, t in ipairs(taken) do
    if t.ts > now then
      added[#added + 1] = t.rec
    else
      if not t.ev then
        t.ev = decodeEvent(t.rec)
      end
      fold(t.ev)
    end
  end

  -- Step 4: pending events the clock has passed, in (ts, fp) order (the stored list is sorted).
  local pendOld = stored[pendField]
  local pendRecords = {}
  if pendOld then
    if string.byte(pendOld, 1) ~= 1 then
      fail('field ' .. pendField .. ' is not a format 1 pending list')
    end
    local count = sunpack('<I4', pendOld, 2)
    local at = 6
    for i = 1, count do
      local len = sunpack('<I4', pendOld, at)
      pendRecords[i] = string.sub(pendOld, at + 4, at + 3 + len)
      at = at + 4 + len
    end
  end
  local due = 0
  while due < #pendRecords and sunpack('<d', pendRecords[due + 1], 1) <= now do
    due = due + 1
    fold(decodeEvent(pendRecords[due]))
  end
  local pendNew = pendOld
  if due > 0 or #added > 0 then
    local kept = {}
    for i = due + 1, #pendRecords do
      kept[#kept + 1] =
        { ts = sunpack('<d', pendRecords[i], 1), fp = string.sub(pendRecords[i], 9, 24), rec = pendRecords[i] }
    end
    for _, rec in ipairs(added) do
      kept[#kept + 1] = { ts = sunpack('<d', rec, 1), fp = string.sub(rec, 9, 24), rec = rec }
    end
    table.sort(kept, function(x, y)
      return compareEvent(x.ts, x.fp, y.ts, y.fp) < 0
    end)
    local out = { '' }
    local count = 0
    for i, r in ipairs(kept) do
      if i == 1 or compareEvent(kept[i - 1].ts, kept[i - 1].fp, r.ts, r.fp) ~= 0 then
        out[#out + 1] = pack('<I4', #r.rec) .. r.rec
        count = count + 1
      end
    end
    if count == 0 then
      pendNew = nil
    else
      out[1] = string.char(1) .. pack('<I4', count)
      pendNew = table.concat(out)
    end
  end

  -- Steps 5 and 6: prune, then note every field whose bytes changed.
  local function offer(name, bytes)
    if bytes ~= nil and bytes ~= stored[name] then
      changed[#changed + 1] = name
      changed[#changed + 1] = bytes
    end
  end
  for i, h in ipairs(hops) do
    offer(prefix .. h.name, tileFinish(h, hopState[i], pruneBelow(h.pruneWindow, h.hop)))
  end
  if life and lifeState.dirty then
    offer(prefix .. life.name, encodeRecord(life.L, lifeState.r))
  end
  for i, l in ipairs(lastNs) do
    offer(prefix .. l.name, lastNFinish(l, lastNState[i]))
  end
  for i, v in ipairs(vars) do
    offer(prefix .. v.name, varFinish(v, varState[i]))
  end
  offer(pendField, pendNew)
  if pendOld and pendNew == nil then
    emptied[#emptied + 1] = pendField
  end
end

-- One call: the entity's part of a Write (KEYS and ARGV as in the header).
local function agg_write(KEYS, ARGV)
  key = KEYS[1]
  dkey = KEYS[2]
  dkeyNext = KEYS[3]
  viewField = ARGV[1]
  gen = ARGV[6]
  now = tonumber(ARGV[7])
  lateness = tonumber(ARGV[8])
  margin = tonumber(ARGV[9])
  aggRetention = tonumber(ARGV[10])
  nextGen = ARGV[11] ~= '' and ARGV[11] or nil
  marker = ARGV[12]
  if not pack then
    libs()
  end
  if marker ~= '' and redis.call('HEXISTS', key, marker) == 1 then
    return { -1 }
  end
  useLayout(ARGV[5])
  -- Steps 2 and 3: an fp is known when a dedup set holds it with a score not older than the forget
  -- threshold (older entries are dropped before the new ones are added), or when an earlier event of
  -- this call had it. One ZMSCORE per set for all events, one ZADD per set for the new ones.
  local forget = now - lateness - margin
  local CHUNK = 1000
  local fps = {}
  for e = FIRST_EVENT, #ARGV do
    local rec = ARGV[e]
    if #rec < 24 + nullBytes then
      fail('event record ' .. (e - FIRST_EVENT + 1) .. ' is ' .. #rec .. ' bytes')
    end
    fps[#fps + 1] = string.sub(rec, 9, 24)
  end
  local function scoresOf(dk)
    local scores = {}
    for from = 1, #fps, CHUNK do
      local got = redis.call('ZMSCORE', dk, unpack(fps, from, math.min(#fps, from + CHUNK - 1)))
      for i = 1, #got do
        scores[from + i - 1] = got[i]
      end
    end
    return scores
  end
  local scores = scoresOf(dkey)
  local scoresNext = nextGen and scoresOf(dkeyNext) or {}
  -- A copy taken by this call is in G+1 too while a rebuild runs: the highest generation answers.
  local takenFlag = nextGen and '2' or '1'
  local flags = {}
  local duplicates = 0
  local newest = nil
  local taken = {}
  local seen = {}
  local zadd = {}
  for i = 1, #fps do
    local rec = ARGV[FIRST_EVENT + i - 1]
    local fp = fps[i]
    local inNext = seen[fp] or (scoresNext[i] and tonumber(scoresNext[i]) >= forget)
    if inNext or (scores[i] and tonumber(scores[i]) >= forget) then
      duplicates = duplicates + 1
      flags[i] = inNext and takenFlag or '1'
    else
      flags[i] = '0'
      seen[fp] = true
      local ts = sunpack('<d', rec, 1)
      -- A rebuild folds old events too: their fps could never recur eligibly, so no set keeps them.
      if ts >= forget then
        zadd[#zadd + 1] = formatMillis(ts)
        zadd[#zadd + 1] = fp
      end
      if newest == nil or ts > newest then
        newest = ts
      end
      taken[#taken + 1] = { ts = ts, rec = rec }
    end
  end

  local changed = {}
  local emptied = {}
  foldGeneration(gen, taken, changed, emptied)
  if nextGen then
    foldGeneration(nextGen, taken, changed, emptied)
  end
  if marker ~= '' then
    changed[#changed + 1] = marker
    changed[#changed + 1] = '1'
  end

  -- Writes from here on. Step 1: the LWW row, exactly as lww-write-1.lua.
  local lwwReply = 3
  if ARGV[2] ~= '' then
    lwwReply = lww_write(key, ARGV[1], ARGV[2], ARGV[3], ARGV[4])
    if type(lwwReply) == 'table' then
      return lwwReply
    end
  end
  local function remember(dk)
    redis.call('ZREMRANGEBYSCORE', dk, '-inf', '(' .. formatMillis(forget))
    for from = 1, #zadd, 2 * CHUNK do
      redis.call('ZADD', dk, unpack(zadd, from, math.min(#zadd, from + 2 * CHUNK - 1)))
    end
  end
  remember(dkey)
  if nextGen then
    remember(dkeyNext)
  end

  -- -2 = no key (the LWW row was not stored and nothing else is there), -1 = persistent.
  local expiry = redis.call('PEXPIRETIME', key)
  local existed = expiry ~= -2
  if #changed > 0 then
    redis.call('HSET', key, unpack(changed))
  end
  if #emptied > 0 then
    redis.call('HDEL', key, unpack(emptied))
  end

  -- Step 7: expiry. The hash lives at least until the newest event + retention (0 = persistent),
  -- never shortened, a persistent key stays persistent; the dedup sets until their newest entry could
  -- still recur: max(acceptedAt, newest event) + L + margin.
  if newest ~= nil and (#changed > 0 or existed) then
    if aggRetention == 0 then
      redis.call('PERSIST', key)
    else
      local deadline = math.ceil(newest + aggRetention)
      if not existed then
        redis.call('PEXPIREAT', key, string.format('%.0f', deadline))
      else
        if expiry ~= -1 and deadline > expiry then
          redis.call('PEXPIREAT', key, string.format('%.0f', deadline))
        end
      end
    end
  end
  local function expireDedup(dk)
    local deadline = math.ceil(math.max(now, newest) + lateness + margin)
    local current = redis.call('PEXPIRETIME', dk)
    if current == -1 or (current ~= -2 and deadline > current) then
      redis.call('PEXPIREAT', dk, string.format('%.0f', deadline))
    end
  end
  if newest ~= nil then
    expireDedup(dkey)
    if nextGen then
      expireDedup(dkeyNext)
    end
  end

  return { lwwReply, table.concat(flags), duplicates }
end
