/* hallpulse live lobby page (大堂实况屏).
 *
 * /lobby/?hall=JS-NJ-0001[&lang=zh|en][&poll=5][&sse=0]
 *   listens to GET /api/halls/{hall}/events (server-sent events: the worker pushes the
 *   hall's /now figures after each batch that changed them) and shows the hall's queue
 *   now, open queue alerts (排队预警), two hours of sparklines, the clerks at the counters
 *   and today's figures. It polls GET /api/halls/{hall}/now every `poll` seconds instead
 *   when the browser has no EventSource, when the worker says `event: poll` (the hall is
 *   held by another worker, or the worker has as many streams as it allows), when the
 *   stream keeps failing, or with sse=0.
 *   A new or escalated alert flashes and plays a short tone (WebAudio; mute button,
 *   remembered in localStorage). A browser allows sound only after a tap on the page,
 *   or, on a kiosk, with Chromium started with --autoplay-policy=no-user-gesture-required.
 * /lobby/ without hall= : a picker from GET /api/halls, worst hall first; city=南京
 *   filters it, and it pages (rotating every `rotate` seconds, default 15) when the halls
 *   do not fit the screen.
 *
 * A hall whose feed is silent (数据中断: `feed.silent`, domain.md §3) shows a banner with
 * the time of its last data, and its queue figures are marked as the last ones received,
 * never as a calm 正常 queue. Today's data-quality figures (`quality_today`) appear as a
 * small line when any of them is not zero.
 *
 * Plain browser JavaScript, no framework, no network access beyond this origin.
 * Everything from the API is put into the page with textContent, never as HTML.
 */
(function () {
  'use strict';

  var I18N = window.HALLPULSE_I18N;
  var CATEGORY_ORDER = ['consult', 'open_account', 'plan_change', 'payment',
    'terminal', 'broadband', 'vip', 'other'];
  var RANK = { normal: 0, warning: 1, critical: 2 };
  var STORAGE_KEY = 'hallpulse.lobby.lang';
  var MUTE_KEY = 'hallpulse.lobby.muted';
  var HALL_TZ = 'Asia/Shanghai';  // business time of the halls (domain.md §2)
  var POLL_DEFAULT_S = 5;

  var params = new URLSearchParams(window.location.search);
  var hallId = (params.get('hall') || '').trim();
  var pollMs = parsePoll(params.get('poll')) * 1000;
  var lang = initialLang();
  var cityFilter = (params.get('city') || '').trim();
  var rotateMs = Math.min(600, Math.max(3, parseFloat(params.get('rotate')) || 15)) * 1000;
  var useSse = hallId && params.get('sse') !== '0' && typeof window.EventSource === 'function';

  var st = {
    data: null,        // last good /now payload (hall page)
    halls: null,       // last good /api/halls payload (picker)
    notFound: false,   // 404 for the hall
    failing: false,    // the last fetch failed
    lastOkAt: null,    // Date.now() of the last successful fetch
    renderedKey: null, // what the main area shows now (skip identical re-renders)
    mode: useSse ? 'sse' : 'poll',  // how figures arrive now
    seenAlerts: null,  // alert_id -> level rank, of the figures shown last (null: none yet)
    flashUntil: {},    // alert_id -> Date.now() until which it flashes
    page: 0,           // picker page shown
    pageSize: 0        // picker rows per page (0: not measured yet)
  };

  // ------------------------------------------------------------------ helpers

  function parsePoll(raw) {
    var v = parseFloat(raw);
    if (!isFinite(v)) return POLL_DEFAULT_S;
    return Math.min(300, Math.max(1, v));
  }

  function normLang(v) {
    if (!v) return null;
    v = String(v).toLowerCase();
    if (v.indexOf('en') === 0) return 'en';
    if (v.indexOf('zh') === 0) return 'zh';
    return null;
  }

  function readStoredLang() {
    try { return normLang(window.localStorage.getItem(STORAGE_KEY)); } catch (e) { return null; }
  }

  function storeLang(v) {
    try { window.localStorage.setItem(STORAGE_KEY, v); } catch (e) { /* private mode: fine */ }
  }

  function initialLang() {
    var fromUrl = normLang(params.get('lang'));
    if (fromUrl) { storeLang(fromUrl); return fromUrl; }
    return readStoredLang() || 'zh';
  }

  function dict() { return I18N[lang] || I18N.zh; }

  function lookup(key) {
    var parts = key.split('.');
    var v = dict(), z = I18N.zh;
    for (var i = 0; i < parts.length; i++) {
      v = v == null ? undefined : v[parts[i]];
      z = z == null ? undefined : z[parts[i]];
    }
    return v != null ? v : z;
  }

  function t(key, vars) {
    var s = lookup(key);
    if (s == null) return key;
    s = String(s);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) { return vars[k] != null ? String(vars[k]) : m; });
    }
    return s;
  }

  function isNum(x) { return typeof x === 'number' && isFinite(x); }

  function fmtMinutes(s) {
    if (!isNum(s)) return t('none');
    if (s <= 0) return t('minutes', { n: 0 });
    var m = Math.round(s / 60);
    return m === 0 ? t('underMinute') : t('minutes', { n: m });
  }

  function fmtInt(n) {
    if (!isNum(n)) return t('none');
    return Math.round(n).toLocaleString(dict().locale);
  }

  function fmtPct(x, digits) {
    if (!isNum(x)) return t('none');
    return (x * 100).toFixed(digits || 0) + '%';
  }

  function fmtScore(x) { return isNum(x) ? x.toFixed(1) : t('none'); }

  function hallParts(date) {
    // Wall-clock parts of `date` in the halls' time zone.
    var parts = {};
    try {
      new Intl.DateTimeFormat('en-GB', {
        timeZone: HALL_TZ, year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
      }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) {
      var pad = function (n) { return (n < 10 ? '0' : '') + n; };
      parts = { year: String(date.getFullYear()), month: pad(date.getMonth() + 1), day: pad(date.getDate()),
        hour: pad(date.getHours()), minute: pad(date.getMinutes()), second: pad(date.getSeconds()) };
    }
    return parts;
  }

  function parseTime(iso) {
    if (!iso) return null;
    var d = new Date(iso);
    return isNaN(d.getTime()) ? null : d;
  }

  /** "09:15:02", with the date in front when it is not today (a stalled feed). */
  function fmtClock(iso, withSeconds) {
    var d = parseTime(iso);
    if (!d) return t('none');
    var p = hallParts(d), today = hallParts(new Date());
    var clock = p.hour + ':' + p.minute + (withSeconds === false ? '' : ':' + p.second);
    if (p.year + p.month + p.day !== today.year + today.month + today.day) {
      return p.year + '-' + p.month + '-' + p.day + ' ' + clock;
    }
    return clock;
  }

  function catName(code) {
    if (code == null || code === 'all') return t('wholeHall');
    var n = lookup('category.' + code);
    return n != null ? n : String(code);
  }

  function hallName(h) {
    if (!h) return '';
    if (lang === 'en' && h.name_en) return h.name_en;
    return h.name || h.name_en || h.hall_id || '';
  }

  /** Build an element; children may be strings (text), nodes, arrays or null. */
  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v == null || v === false) return;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'href') node.setAttribute('href', v);
        else node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    var add = function (c) {
      if (c == null || c === false) return;
      if (Array.isArray(c)) { c.forEach(add); return; }
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    };
    for (var i = 2; i < arguments.length; i++) add(arguments[i]);
    return node;
  }

  function pageUrl(extra) {
    var p = new URLSearchParams();
    Object.keys(extra || {}).forEach(function (k) { if (extra[k]) p.set(k, extra[k]); });
    if (params.get('poll')) p.set('poll', params.get('poll'));
    p.set('lang', lang);
    return '?' + p.toString();
  }

  // ------------------------------------------------------------------ states

  function levelRank(level) { return RANK[level] || 0; }

  function rankName(rank) { return rank >= 2 ? 'critical' : rank === 1 ? 'warning' : 'normal'; }

  /** The hall's feed as the page uses it; an API without `feed` (older worker) is not silent. */
  function feedOf(d) {
    var f = (d && d.feed) || {};
    return { silent: f.silent === true, stale: f.stale === true, lastAt: f.last_event_at || null,
      since: f.silent_since || null };
  }

  /** "最后数据 09:02" (with the date when not today), or "今日无数据" without any event. */
  function lastDataText(iso) {
    return iso ? t('feedLast', { t: fmtClock(iso, false) }) : t('feedNever');
  }

  /** Colour state of one category: wait against its target (≥ target warning, ≥ 2× target
   * critical, as the default 10/20 min rules of §4), raised to the level of any open alert
   * for that category (which also covers the waiting-count rules). */
  function categoryState(c, alerts, silent) {
    var rank = 0;
    var target = c.target_wait_s;
    if (isNum(target) && target > 0) {
      var w = Math.max(isNum(c.longest_wait_s) ? c.longest_wait_s : 0, isNum(c.est_wait_s) ? c.est_wait_s : 0);
      if (w >= 2 * target) rank = 2;
      else if (w >= target) rank = 1;
    }
    (alerts || []).forEach(function (a) {
      if (a && a.category === c.category && !recovering(a)) rank = Math.max(rank, levelRank(a.level));
    });
    // A silent feed: the last figures say nothing about the queue now, so a queue that
    // looked fine is shown as 数据中断, not 正常 (a warning or worse stays what it was).
    if (silent && rank === 0) return 'silent';
    return rankName(rank);
  }

  function sortedCategories(cats) {
    return (cats || []).slice().sort(function (a, b) {
      var ia = CATEGORY_ORDER.indexOf(a.category), ib = CATEGORY_ORDER.indexOf(b.category);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
  }

  function recovering(a) { return !!a && a.state === 'recovering'; }

  function sortedAlerts(alerts) {
    return (alerts || []).slice().sort(function (a, b) {
      var r = (recovering(a) ? 1 : 0) - (recovering(b) ? 1 : 0);  // what fires now first
      if (r) return r;
      var d = levelRank(b.level) - levelRank(a.level);
      if (d) return d;
      return String(a.opened_at || '').localeCompare(String(b.opened_at || ''));
    });
  }

  // ------------------------------------------------------------------ triggers

  var TRIGGER_RE = /^\s*([a-z_]+?)(?:_(\d+)min)?\s*(>=|<=|>|<|=)\s*(-?[\d.]+)\s*(min|s)?\s*$/;
  var OPS = { '>=': '≥', '<=': '≤', '>': '>', '<': '<', '=': '=' };
  // trigger name (without a "_s" suffix) -> [i18n key, figure names to show the current value]
  var TRIGGERS = {
    waiting: ['waiting', ['waiting']],
    longest_wait: ['longest_wait', ['longest_wait_s']],
    estimated_wait: ['estimated_wait', ['estimated_wait_s', 'est_wait_s']],
    est_wait: ['estimated_wait', ['est_wait_s', 'estimated_wait_s']],
    complaints: ['complaints', ['complaints_in_window', 'complaints']],
    escalated_complaints: ['escalated_complaints', ['escalated_in_window', 'escalated']],
    // feed rule (数据中断): "no_event>=15min"; its figures are in minutes, not seconds
    no_event: ['no_event', ['silent_min', 'last_event_age_min'], 'min']
  };
  // triggers without a condition (e.g. the feed alert's close: "event_received")
  var PLAIN_TRIGGERS = { event_received: 'event_received' };

  /** "longest_wait>=20min" with figures {longest_wait_s: 1380} -> "最长等候 23 分钟 ≥ 20 分钟".
   * Unknown forms are shown as sent. */
  function describeTrigger(raw, figures) {
    var plain = PLAIN_TRIGGERS[String(raw).trim()];
    if (plain) return t('trigger.' + plain);
    var m = TRIGGER_RE.exec(String(raw));
    if (!m) return String(raw);
    var name = m[1], win = m[2], op = m[3], value = parseFloat(m[4]), unit = m[5] || null;
    if (/_s$/.test(name)) { name = name.slice(0, -2); unit = 's'; }
    var spec = TRIGGERS[name];
    if (!spec) return String(raw);
    var label = spec[0] === 'complaints'
      ? (win ? t('trigger.complaints', { w: win }) : t('trigger.complaints_nowindow'))
      : t('trigger.' + spec[0]);
    var isTime = unit === 'min' || unit === 's';
    var fmt = function (v, u) {
      if (!isTime) return fmtInt(v);
      return fmtMinutes(u === 'min' ? v * 60 : v);
    };
    var current = null;
    (spec[1] || []).some(function (f) {
      if (figures && isNum(figures[f])) { current = figures[f]; return true; }
      return false;
    });
    if (current != null && spec[2] === 'min') current *= 60;  // shown as seconds below
    var parts = [label];
    if (current != null) parts.push(isTime ? fmtMinutes(current) : fmtInt(current));
    parts.push(OPS[op] + ' ' + fmt(value, unit));
    return parts.join(' ');
  }

  // ------------------------------------------------------------------ sound and flash

  /* A new or escalated alert plays a short tone (WebAudio, no file) unless muted. Browsers
   * start audio suspended until the page gets a tap or a key: the page then says so, and
   * how a kiosk allows it (Chromium --autoplay-policy=no-user-gesture-required). */
  var sound = {
    ctx: null,
    muted: readMuted(),
    played: 0   // tones played (or due while muted/blocked): data-tones on <body>, for tests
  };

  function readMuted() {
    try { return window.localStorage.getItem(MUTE_KEY) === '1'; } catch (e) { return false; }
  }

  function audioContext() {
    if (sound.ctx) return sound.ctx;
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    try { sound.ctx = new AC(); } catch (e) { sound.ctx = null; }
    return sound.ctx;
  }

  function soundBlocked() {
    var ctx = audioContext();
    return !ctx || ctx.state !== 'running';
  }

  function unlockSound() {
    var ctx = audioContext();
    if (ctx && ctx.state !== 'running' && ctx.resume) {
      ctx.resume().then(renderSound, renderSound);
    }
  }

  /** Two short beeps (three, higher, for critical). */
  function beep(critical) {
    sound.played += 1;
    document.body.setAttribute('data-tones', String(sound.played));
    if (sound.muted) return;
    var ctx = audioContext();
    if (!ctx || ctx.state !== 'running') return;
    var n = critical ? 3 : 2, f = critical ? 988 : 784, t0 = ctx.currentTime + 0.02;
    for (var i = 0; i < n; i++) {
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      var start = t0 + i * 0.22;
      osc.type = 'sine';
      osc.frequency.value = f;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.35, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.18);
    }
  }

  function setMuted(m) {
    sound.muted = m;
    try { window.localStorage.setItem(MUTE_KEY, m ? '1' : '0'); } catch (e) { /* fine */ }
    if (!m) unlockSound();
    renderSound();
  }

  function renderSound() {
    var btn = $('sound-toggle');
    btn.hidden = !hallId;  // the list of halls plays no tone
    btn.textContent = sound.muted ? t('soundOff') : t('soundOn');
    btn.title = sound.muted ? t('soundOffTitle') : t('soundOnTitle');
    btn.setAttribute('aria-pressed', sound.muted ? 'true' : 'false');
    btn.classList.toggle('is-muted', sound.muted);
    var hint = $('sound-hint');
    var show = hallId && !sound.muted && soundBlocked();
    hint.hidden = !show;
    if (show) {
      // the Chromium switch as one unbroken piece of text
      var parts = t('soundHint').split('{flag}');
      hint.replaceChildren(parts[0], el('code', { text: '--autoplay-policy=no-user-gesture-required' }), parts[1] || '');
    }
  }

  /** Compare the alerts with those shown before: new ones and escalations flash and sound
   * (not on the first figures of a page just opened: nothing changed in front of anyone). */
  function noticeAlerts(d) {
    var now = {}, fresh = [], critical = false;
    (d.alerts || []).forEach(function (a) {
      if (!a || !a.alert_id) return;
      var rank = levelRank(a.level);
      now[a.alert_id] = rank;
      if (st.seenAlerts && (st.seenAlerts[a.alert_id] == null || st.seenAlerts[a.alert_id] < rank)) {
        fresh.push(a.alert_id);
        if (rank >= 2) critical = true;
      }
    });
    st.seenAlerts = now;
    if (!fresh.length) return;
    var until = Date.now() + 6000;
    fresh.forEach(function (id) { st.flashUntil[id] = until; });
    beep(critical);
  }

  function flashing(alertId) {
    var u = st.flashUntil[alertId];
    return u != null && u > Date.now();
  }

  // ------------------------------------------------------------------ sparklines and clerks

  var SVG_NS = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  /** An inline SVG sparkline of `values` (null = unknown minute: a gap), drawn with DOM
   * APIs only; a dashed line at `limit` (the warning threshold) when given. */
  function sparkline(values, limit, cls) {
    var W = 240, H = 48, pad = 3;
    var known = values.filter(isNum);
    var top = Math.max(1, isNum(limit) ? limit * 1.15 : 0, known.length ? Math.max.apply(null, known) : 0);
    var x = function (i) { return values.length > 1 ? (i * W) / (values.length - 1) : W; };
    var y = function (v) { return H - pad - (Math.max(0, v) / top) * (H - 2 * pad); };
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', class: 'spark__svg ' + (cls || ''),
      role: 'img', focusable: 'false' });
    if (isNum(limit) && limit < top) {
      root.appendChild(svg('line', { x1: 0, x2: W, y1: y(limit), y2: y(limit), class: 'spark__limit' }));
    }
    var run = [];
    var flush = function () {
      if (run.length > 1) {
        root.appendChild(svg('polygon', { class: 'spark__area',
          points: run.concat([[run[run.length - 1][0], H], [run[0][0], H]]).map(function (p) { return p.join(','); }).join(' ') }));
        root.appendChild(svg('polyline', { class: 'spark__line', points: run.map(function (p) { return p.join(','); }).join(' ') }));
      } else if (run.length === 1) {
        root.appendChild(svg('circle', { class: 'spark__dot', cx: run[0][0], cy: run[0][1], r: 1.8 }));
      }
      run = [];
    };
    values.forEach(function (v, i) {
      if (isNum(v)) run.push([Math.round(x(i) * 10) / 10, Math.round(y(v) * 10) / 10]);
      else flush();
    });
    flush();
    return root;
  }

  function renderTrend(d) {
    var tr = d.trend || {};
    var minutes = tr.minutes || [];
    var queue = tr.queue || [], longest = tr.longest_wait_s || [];
    var known = queue.filter(isNum);
    var body;
    if (!known.length) {
      body = el('p', { class: 'muted trend__empty', text: t('trendEmpty') });
    } else {
      var maxQ = Math.max.apply(null, known);
      var longestMin = longest.map(function (v) { return isNum(v) ? v / 60 : null; });
      var maxL = Math.max.apply(null, longestMin.filter(isNum).concat([0]));
      var first = minutes.length ? new Date(minutes[0]).toISOString() : null;
      var axis = function () {
        return el('div', { class: 'spark__axis' },
          el('span', { text: first ? fmtClock(first, false) : '' }),
          el('span', { text: t('trendNow') }));
      };
      body = el('div', { class: 'trend__pair' },
        el('div', { class: 'spark', 'data-field': 'trend-queue' },
          el('div', { class: 'spark__head' },
            el('span', { class: 'spark__label', text: t('trendQueue') }),
            el('span', { class: 'spark__max', text: t('trendMax', { v: fmtInt(maxQ) }) })),
          sparkline(queue, null, 'spark__svg--queue'), axis()),
        el('div', { class: 'spark', 'data-field': 'trend-longest' },
          el('div', { class: 'spark__head' },
            el('span', { class: 'spark__label', text: t('trendLongest') }),
            el('span', { class: 'spark__max', text: t('trendMax', { v: fmtMinutes(maxL * 60) }) })),
          sparkline(longestMin, 10, 'spark__svg--longest'), axis()));
    }
    return el('section', { class: 'panel trend', 'aria-labelledby': 'h-trend', 'data-field': 'trend' },
      el('h2', { class: 'panel__title', id: 'h-trend', text: t('trendTitle') }), body);
  }

  function fmtDuration(s) {
    if (!isNum(s)) return t('none');
    s = Math.max(0, Math.round(s));
    var m = Math.floor(s / 60), r = s % 60;
    return m + ':' + (r < 10 ? '0' : '') + r;
  }

  /** Who is at a counter now: counter and clerk, the service so far against the category's
   * standard handle time, and how many the clerk has served today. */
  function renderClerks(d) {
    var serving = (d.serving || []).slice().sort(function (a, b) { return (b.ratio || 0) - (a.ratio || 0); });
    var servedBy = {};
    (d.clerks || []).forEach(function (c) { if (c && c.staff_id) servedBy[c.staff_id] = c.n; });
    var chips = serving.map(function (r) {
      var ratio = isNum(r.ratio) ? r.ratio : 0;
      var state = ratio >= 1.5 ? 'critical' : ratio >= 1 ? 'warning' : 'normal';
      var bar = el('span', { class: 'clerk__bar' });
      var fill = el('span', { class: 'clerk__fill clerk__fill--' + Math.min(10, Math.round(Math.min(ratio, 1) * 10)) });
      bar.appendChild(fill);
      return el('li', { class: 'clerk clerk--' + state, 'data-counter': r.counter_id || '', 'data-staff': r.staff_id || '',
        'data-state': state },
        el('div', { class: 'clerk__who' },
          el('span', { class: 'clerk__counter', text: r.counter_id || t('none') }),
          el('span', { class: 'clerk__staff', text: r.staff_id || '' }),
          el('span', { class: 'clerk__cat', text: catName(r.category) })),
        el('div', { class: 'clerk__handle', 'data-field': 'handle' },
          el('b', { text: fmtDuration(r.handle_s) }),
          el('span', { class: 'clerk__std', text: ' / ' + t('standard', { t: fmtDuration(r.standard_s) }) }),
          el('span', { class: 'clerk__served', 'data-field': 'served', text: t('servedToday', { n: fmtInt(servedBy[r.staff_id] || 0) }) })),
        bar);
    });
    var idle = Object.keys(servedBy).filter(function (sid) {
      return !serving.some(function (r) { return r.staff_id === sid; });
    }).length;
    return el('section', { class: 'panel clerks', 'aria-labelledby': 'h-clerks', 'data-field': 'clerks' },
      el('h2', { class: 'panel__title', id: 'h-clerks' }, t('clerksTitle'),
        el('span', { class: 'clerks__more', id: 'clerks-more', hidden: true }),
        idle ? el('span', { class: 'clerks__idle', text: t('clerksIdle', { n: idle }) }) : null),
      chips.length ? el('ol', { class: 'clerks__list', id: 'clerks-list' }, chips)
        : el('p', { class: 'muted clerks__empty', text: t('clerksEmpty') }));
  }

  /** A landscape hall screen cannot scroll: when the page is taller than the screen (long
   * alert texts, in English above all), the alerts go compact; then the clerk strip
   * shows what still fits. */
  function fitScreen() {
    var layout = document.querySelector('.layout');
    if (!layout) return;
    layout.classList.remove('layout--tight');
    fitClerks();
    var de = document.documentElement;
    if (window.innerWidth > 1100 && window.innerWidth >= window.innerHeight && de.scrollHeight > window.innerHeight) {
      layout.classList.add('layout--tight');
      fitClerks();
    }
  }

  /** The strip takes the room left in the side column: the chips that do not fit are
   * hidden (the longest against their standard come first) and counted in its title. */
  function fitClerks() {
    var list = $('clerks-list'), more = $('clerks-more');
    if (!list || !more) return;
    var items = Array.prototype.slice.call(list.children);
    items.forEach(function (li) { li.hidden = false; });
    if (!items.length) return;
    var bottom = list.getBoundingClientRect().bottom, hidden = 0;
    items.forEach(function (li) {
      if (li.getBoundingClientRect().bottom > bottom + 1) { li.hidden = true; hidden += 1; }
    });
    more.hidden = !hidden;
    more.textContent = hidden ? t('clerksMore', { n: hidden }) : '';
  }

  // ------------------------------------------------------------------ rendering

  var $ = function (id) { return document.getElementById(id); };

  function tile(label, value, sub, field, extraClass) {
    return el('div', { class: 'tile' + (extraClass ? ' ' + extraClass : ''), 'data-field': field },
      el('div', { class: 'tile__label', text: label }),
      el('div', { class: 'tile__value', text: value }),
      sub ? el('div', { class: 'tile__sub', text: sub }) : null);
  }

  function renderHeader(title, sub, asOf) {
    $('hall-name').textContent = title;
    $('hall-sub').textContent = sub || '';
    if (asOf) {
      $('as-of-label').textContent = t('asOf');
      $('as-of-time').textContent = fmtClock(asOf);
      $('as-of').hidden = false;
    } else {
      $('as-of').hidden = true;
    }
    document.title = title && title !== t('appName') ? title + ' · ' + t('appName') : t('appName');
  }

  function renderTotals(d) {
    var q = d.queue || {};
    var feed = feedOf(d);
    var longestSub = q.longest_ticket_no ? t('ticket', { no: q.longest_ticket_no }) : null;
    var mean60 = d.wait_60m && isNum(d.wait_60m.mean_s) ? t('mean60') + ' ' + fmtMinutes(d.wait_60m.mean_s) : null;
    return el('section', { class: 'panel totals' + (feed.silent ? ' is-feed-stale' : ''), 'aria-labelledby': 'h-totals' },
      el('h2', { class: 'panel__title', id: 'h-totals' }, t('queueNow'),
        feed.silent ? el('span', { class: 'panel__stale', 'data-field': 'totals-stale',
          text: feed.lastAt ? t('feedAsOf', { t: fmtClock(feed.lastAt, false) }) : t('feedNever') })
          : feed.stale ? el('span', { class: 'panel__stale', 'data-field': 'totals-stale',
            text: t('feedStale', { t: fmtClock(d.as_of, false) }) }) : null),
      el('div', { class: 'tiles tiles--totals' },
        tile(t('waiting'), fmtInt(q.waiting), null, 'total-waiting', 'tile--big'),
        tile(t('longestWait'), fmtMinutes(q.longest_wait_s), longestSub, 'total-longest'),
        tile(t('estWait'), fmtMinutes(q.est_wait_s), null, 'total-est'),
        tile(t('activeCounters'), fmtInt(q.active_counters), null, 'total-counters'),
        tile(t('withinTarget60'), fmtPct(d.within_target_60m), mean60, 'total-within')));
  }

  function fact(label, value, field, extra) {
    return el('div', { class: 'fact', 'data-field': field },
      el('dt', { class: 'fact__label', text: label }),
      el('dd', { class: 'fact__value' }, el('span', { text: value }), extra || null));
  }

  function renderCategory(c, alerts, silent) {
    var state = categoryState(c, alerts, silent);
    var idle = !(c.waiting > 0);
    var ticket = c.longest_ticket_no
      ? el('span', { class: 'fact__ticket', 'data-field': 'ticket', text: c.longest_ticket_no })
      : null;
    var foot = [
      isNum(c.target_wait_s) ? el('span', { class: 'cat__target', text: t('target', { t: fmtMinutes(c.target_wait_s) }) }) : null,
      isNum(c.within_target_60m) ? el('span', { class: 'cat__within', text: t('withinTarget', { p: fmtPct(c.within_target_60m) }) }) : null
    ].filter(Boolean);
    return el('article', {
      class: 'cat cat--' + state + (idle ? ' cat--idle' : '') + (silent ? ' cat--stale' : ''),
      'data-category': c.category, 'data-state': state, 'data-stale': silent ? 'true' : null
    },
      el('h3', { class: 'cat__name', text: catName(c.category) }),
      el('div', { class: 'cat__row' },
        el('div', { class: 'cat__waiting', 'data-field': 'waiting' },
          el('span', { class: 'cat__num', text: fmtInt(c.waiting) }),
          el('span', { class: 'cat__unit', text: t('people') || t('waiting') })),
        el('span', { class: 'cat__state', text: t('state.' + state) })),
      el('dl', { class: 'cat__facts' },
        fact(t('longestShort'), fmtMinutes(c.longest_wait_s), 'longest', ticket),
        fact(t('estWaitShort'), fmtMinutes(c.est_wait_s), 'est'),
        fact(t('counters'), fmtInt(c.active_counters), 'counters')),
      foot.length ? el('div', { class: 'cat__foot' }, foot) : null);
  }

  function renderCategories(d) {
    var cats = sortedCategories(d.categories);
    var silent = feedOf(d).silent;
    return el('section', { class: 'panel cats', 'aria-labelledby': 'h-cats' },
      el('h2', { class: 'panel__title', id: 'h-cats', text: t('categories') }),
      cats.length
        ? el('div', { class: 'cats__grid' + (cats.length > 8 ? ' cats__grid--dense' : '') },
          cats.map(function (c) { return renderCategory(c, d.alerts, silent); }))
        : el('p', { class: 'muted', text: t('noCategories') }));
  }

  /** What a recovering alert's figures are now ("现在 等候 3 人 · 最长等候 4 分钟"). */
  function figuresNow(a) {
    var f = a.figures || {}, parts = [];
    if (isNum(f.waiting)) parts.push(t('trigger.waiting') + ' ' + fmtInt(f.waiting));
    if (isNum(f.longest_wait_s)) parts.push(t('trigger.longest_wait') + ' ' + fmtMinutes(f.longest_wait_s));
    if (isNum(f.complaints_in_window)) parts.push(t('trigger.complaints_nowindow') + ' ' + fmtInt(f.complaints_in_window));
    return parts.length ? t('recoveringNow', { f: parts.join(' · ') }) : null;
  }

  function renderAlert(a) {
    var level = a.level === 'critical' ? 'critical' : 'warning';
    var action = lang === 'en' ? (a.suggested_action_en || a.suggested_action) : (a.suggested_action || a.suggested_action_en);
    var what = [catName(a.category)];
    if (a.rule && lookup('rule.' + a.rule)) what.push(t('rule.' + a.rule));
    // An alert none of whose conditions holds any more (恢复中) stays open until its figures
    // stayed low for the close delay (domain.md §4): said so, with the figures now, never
    // shown as a warning with nothing behind it.
    if (recovering(a)) {
      return el('article', {
        class: 'alert alert--recovering', 'data-level': level, 'data-state': 'recovering',
        'data-alert-id': a.alert_id, 'data-category': a.category, role: 'status'
      },
        el('div', { class: 'alert__head' },
          el('span', { class: 'alert__badge', text: t('recovering') }),
          el('span', { class: 'alert__what', text: what.join(' · ') }),
          a.opened_at ? el('span', { class: 'alert__since', text: t('openedAt', { t: fmtClock(a.opened_at, false) }) }) : null),
        el('p', { class: 'alert__note', 'data-field': 'recovering-note',
          text: a.closes_at ? t('recoveringCloses', { t: fmtClock(a.closes_at, false) }) : t('recoveringEasing') }),
        figuresNow(a) ? el('p', { class: 'alert__now', text: figuresNow(a) }) : null);
    }
    var triggers = (a.triggers || []).map(function (tr) {
      return el('li', { class: 'alert__trigger', text: describeTrigger(tr, a.figures) });
    });
    return el('article', {
      class: 'alert alert--' + level + (flashing(a.alert_id) ? ' alert--flash' : ''), 'data-level': level,
      'data-state': 'firing', 'data-alert-id': a.alert_id, 'data-category': a.category, role: 'alert'
    },
      el('div', { class: 'alert__head' },
        el('span', { class: 'alert__badge', text: t('level.' + level) }),
        el('span', { class: 'alert__what', text: what.join(' · ') }),
        a.opened_at ? el('span', { class: 'alert__since', text: t('openedAt', { t: fmtClock(a.opened_at, false) }) }) : null),
      triggers.length ? el('ul', { class: 'alert__triggers' }, triggers) : null,
      action ? el('div', { class: 'alert__action' },
        el('span', { class: 'alert__action-label', text: t('suggested') }),
        el('p', { class: 'alert__action-text', text: action })) : null);
  }

  function renderAlerts(d) {
    var alerts = sortedAlerts(d.alerts);
    var silent = feedOf(d).silent;
    // No alert and a silent feed is not "all clear": nothing can be judged.
    var empty = silent
      ? el('p', { class: 'alerts__unknown', text: t('feedNoAlerts') })
      : el('p', { class: 'alerts__ok', text: t('noAlerts') });
    return el('section', {
      class: 'panel alerts' + (alerts.length ? ' alerts--open' : silent ? ' alerts--unknown' : ' alerts--none'),
      'aria-labelledby': 'h-alerts'
    },
      el('h2', { class: 'panel__title', id: 'h-alerts' }, t('alertsTitle'),
        alerts.length ? el('span', { class: 'panel__count', text: String(alerts.length) }) : null),
      alerts.length
        ? el('div', { class: 'alerts__list' + (alerts.length > 2 ? ' alerts__list--compact' : '') }, alerts.map(renderAlert))
        : empty);
  }

  /** The 数据中断 banner: what happened, since when there is no data, what it means. */
  function renderFeedBanner(d) {
    var feed = feedOf(d);
    if (!feed.silent) return null;
    return el('section', { class: 'feed-banner', id: 'feed-banner', 'data-field': 'feed', role: 'status' },
      el('span', { class: 'feed-banner__title', text: t('feedSilent') }),
      el('span', { class: 'feed-banner__last', 'data-field': 'feed-last', text: lastDataText(feed.lastAt) }),
      el('span', { class: 'feed-banner__hint', text: t('feedHint') }));
  }

  /** Today's data-quality figures (domain.md §3), only when one of them is not zero. */
  function renderQuality(d) {
    var q = d.quality_today;
    if (!q) return null;
    var n = function (x) { return isNum(x) ? x : 0; };
    if (!(n(q.inferred_calls) || n(q.expired_visits) || n(q.silent_minutes) || n(q.late_events))) return null;
    var silentMin = n(q.silent_minutes);
    var item = function (label, value, set, field) {
      return el('span', { class: 'quality__item' + (set ? ' quality__item--set' : ''), 'data-field': field },
        label + ' ', el('b', { text: value }));
    };
    // the line may wrap after a dot, never inside a figure nor before a dot
    var sep = function () { return ['\u00a0', el('span', { class: 'quality__sep', 'aria-hidden': 'true', text: '·' }), ' ']; };
    // A small panel at the foot of the side column, level with today's strip.
    return el('section', { class: 'panel quality', id: 'quality', 'data-field': 'quality', title: t('qualityHint') },
      el('span', { class: 'quality__label', text: t('quality') + (lang === 'en' ? ': ' : '：') }),
      item(t('qualityInferred'), fmtInt(n(q.inferred_calls)), n(q.inferred_calls) > 0, 'quality-inferred'), sep(),
      item(t('qualityExpired'), fmtInt(n(q.expired_visits)), n(q.expired_visits) > 0, 'quality-expired'), sep(),
      item(t('qualitySilent'), silentMin > 0 && silentMin < 1 ? t('underMinute')
        : t('minutes', { n: Math.round(silentMin) }), silentMin > 0, 'quality-silent'), sep(),
      item(t('qualityLate'), fmtInt(n(q.late_events)), n(q.late_events) > 0, 'quality-late'));
  }

  function renderToday(d) {
    var td = d.today || {};
    return el('section', { class: 'panel today', 'aria-labelledby': 'h-today' },
      el('h2', { class: 'panel__title', id: 'h-today', text: t('today') }),
      el('div', { class: 'tiles tiles--today' },
        tile(t('issued'), fmtInt(td.issued), t('served') + ' ' + fmtInt(td.served), 'today-issued'),
        tile(t('abandonment'), fmtPct(td.abandonment_rate, 1), t('abandonedN', { n: fmtInt(td.abandoned) }), 'today-abandonment'),
        tile(t('satisfaction'), fmtScore(td.csat_mean), t('satisfactionN', { n: fmtInt(td.csat_n) }), 'today-csat'),
        tile(t('satisfiedShare'), fmtPct(td.csat_satisfied_share), t('satisfiedHint'), 'today-satisfied'),
        tile(t('complaints'), fmtInt(td.complaints), t('escalatedN', { n: fmtInt(td.complaints_escalated) }), 'today-complaints',
          td.complaints_escalated > 0 ? 'tile--attention' : null)));
  }

  function renderHallPage(main) {
    var d = st.data;
    renderHeader(hallName(d), [d.city, d.hall_id].filter(Boolean).join(' · '), d.as_of);
    var worst = Math.max.apply(null, [0].concat((d.alerts || []).map(function (a) { return recovering(a) ? 0 : levelRank(a.level); })));
    document.body.setAttribute('data-worst', rankName(worst));
    var feed = feedOf(d);
    document.body.setAttribute('data-feed', feed.silent ? 'silent' : feed.stale ? 'stale' : 'live');
    main.replaceChildren(el('div', { class: 'layout' + (feed.silent ? ' layout--silent' : '') },
      renderFeedBanner(d),
      el('div', { class: 'layout__main' }, renderTotals(d), renderCategories(d), renderToday(d)),
      el('div', { class: 'layout__side' }, renderAlerts(d), renderTrend(d), renderClerks(d), renderQuality(d))));
    fitScreen();
  }

  function renderNotFound(main) {
    renderHeader(t('appName'), hallId, null);
    main.replaceChildren(el('div', { class: 'message', id: 'not-found' },
      el('p', { class: 'message__text', text: t('unknownHall', { id: hallId }) }),
      el('a', { class: 'message__link', href: pageUrl({}), text: t('backToList') })));
  }

  function renderPicker(main) {
    var payload = st.halls || {};
    renderHeader(t('pickerTitle'), t('appName'), payload.as_of);
    document.body.removeAttribute('data-worst');
    document.body.removeAttribute('data-feed');
    // The API sorts worst first; keep its order within a level, but never let a hall with
    // an open critical alert sink below a quieter one. A silent hall (数据中断) ranks at
    // least with the warnings (after those with a real warning): its queue is unknown,
    // never 正常.
    var rankOf = function (h) { return Math.max(levelRank(h.worst_level), h.silent === true ? 1 : 0); };
    var onlySilent = function (h) { return rankOf(h) > levelRank(h.worst_level) ? 1 : 0; };
    var all = payload.halls || [];
    var cities = [];
    all.forEach(function (h) { if (h.city && cities.indexOf(h.city) < 0) cities.push(h.city); });
    cities.sort(function (a, b) { return a.localeCompare(b, 'zh-CN'); });
    var halls = all.filter(function (h) { return !cityFilter || h.city === cityFilter; }).sort(function (a, b) {
      return (rankOf(b) - rankOf(a)) || (onlySilent(a) - onlySilent(b));
    });
    // the city filter (a wall screen per city branch): links, so the address says what is shown
    var cityBar = cities.length > 1 || cityFilter ? el('nav', { class: 'cities', id: 'cities', 'aria-label': t('cityFilter') },
      [el('a', { class: 'city' + (cityFilter ? '' : ' is-current'), href: pageUrl({ rotate: params.get('rotate') }),
        'data-city': '', text: t('allCities') })].concat(cities.map(function (c) {
        return el('a', { class: 'city' + (c === cityFilter ? ' is-current' : ''), 'data-city': c,
          href: pageUrl({ city: c, rotate: params.get('rotate') }), text: c });
      }))) : null;
    if (!halls.length) {
      main.replaceChildren(el('section', { class: 'panel picker' }, cityBar,
        el('p', { class: 'placeholder', text: t('pickerEmpty') })));
      return;
    }
    var rows = halls.map(function (h) {
      var level = h.worst_level === 'critical' || h.worst_level === 'warning' ? h.worst_level : 'normal';
      var silent = h.silent === true;
      // The badge says 数据中断 unless an open critical alert outranks it.
      var badge = silent && level !== 'critical' ? 'silent' : level;
      return el('li', { class: 'pick pick--' + badge + (silent ? ' pick--stale' : ''), 'data-hall-id': h.hall_id,
        'data-level': level, 'data-state': badge, 'data-feed': silent ? 'silent' : 'live' },
        el('a', { class: 'pick__link', href: pageUrl({ hall: h.hall_id }) },
          el('span', { class: 'pick__badge', text: t('state.' + badge) }),
          el('span', { class: 'pick__hall' },
            el('span', { class: 'pick__name', text: hallName(h) }),
            el('span', { class: 'pick__city' }, [h.city, h.hall_id].filter(Boolean).join(' · '),
              silent ? el('span', { class: 'pick__last', 'data-field': 'feed-last',
                text: ' · ' + (badge === 'silent' ? '' : t('feedSilent') + ' · ') + lastDataText(h.last_event_at) })
                : null)),
          el('span', { class: 'pick__fig' },
            el('span', { class: 'pick__fig-label', text: t('waiting') }),
            el('span', { class: 'pick__fig-value', text: fmtInt(h.waiting) })),
          el('span', { class: 'pick__fig' },
            el('span', { class: 'pick__fig-label', text: t('longestWait') }),
            el('span', { class: 'pick__fig-value', text: fmtMinutes(h.longest_wait_s) })),
          el('span', { class: 'pick__fig' },
            el('span', { class: 'pick__fig-label', text: t('estWaitShort') }),
            el('span', { class: 'pick__fig-value', text: fmtMinutes(h.est_wait_s) })),
          el('span', { class: 'pick__fig' },
            el('span', { class: 'pick__fig-label', text: t('colAlerts') }),
            el('span', { class: 'pick__fig-value', text: fmtInt(h.open_alerts || 0) }))));
    });
    main.replaceChildren(el('section', { class: 'panel picker' },
      el('div', { class: 'picker__bar' }, cityBar,
        el('p', { class: 'picker__hint', text: t('pickerHint') }),
        el('span', { class: 'picker__page', id: 'picker-page', hidden: true })),
      el('ol', { class: 'picker__list', id: 'picker' }, rows)));
    st.pageSize = 0;  // measured again: the rows may have changed
    applyPage();
  }

  /** A wall screen cannot scroll: the rows that fit the screen make a page, and the pages
   * rotate (every `rotate` seconds). Rows of other pages are hidden, not removed. */
  function applyPage() {
    var list = $('picker'), label = $('picker-page');
    if (!list || !label) return;
    var rows = Array.prototype.slice.call(list.children);
    rows.forEach(function (li) { li.hidden = false; });
    if (!st.pageSize) {
      var room = window.innerHeight - list.getBoundingClientRect().top - 16;
      var first = rows[0] ? rows[0].getBoundingClientRect() : null;
      var gap = rows[1] ? rows[1].getBoundingClientRect().top - first.bottom : 0;
      var per = first ? first.height + gap : 1;
      st.pageSize = Math.max(3, Math.floor((room + gap) / per));
    }
    var pages = Math.max(1, Math.ceil(rows.length / st.pageSize));
    if (st.page >= pages) st.page = 0;
    rows.forEach(function (li, i) { li.hidden = Math.floor(i / st.pageSize) !== st.page; });
    list.setAttribute('data-page', String(st.page + 1));
    list.setAttribute('data-pages', String(pages));
    label.hidden = pages < 2;
    label.textContent = pages < 2 ? '' : t('page', { p: st.page + 1, n: pages });
  }

  function rotatePage() {
    if (hallId || !$('picker')) return;
    st.page += 1;
    applyPage();
  }

  function renderPlaceholder(main, text) {
    renderHeader(t('appName'), hallId || '', null);
    main.replaceChildren(el('p', { class: 'placeholder', id: 'placeholder', text: text }));
  }

  function render() {
    document.documentElement.lang = dict().htmlLang;
    var toggle = $('lang-toggle');
    toggle.textContent = t('toggle');
    toggle.title = t('toggleTitle');
    toggle.setAttribute('lang', lang === 'zh' ? 'en' : 'zh-CN');

    renderSound();
    var main = $('main');
    var payload = hallId ? (st.notFound ? 'notfound' : st.data) : st.halls;
    var key = lang + '|' + (payload == null ? (st.failing ? 'nodata' : 'loading') : JSON.stringify(payload));
    if (key !== st.renderedKey) {
      st.renderedKey = key;
      if (hallId && st.notFound) renderNotFound(main);
      else if (hallId && st.data) renderHallPage(main);
      else if (!hallId && st.halls) renderPicker(main);
      else renderPlaceholder(main, st.failing ? t('noData') : t('loading'));
      document.body.classList.remove('is-loading');
    }
    renderStale();
  }

  /** Staleness: shown only while fetches fail and there is something on screen to be stale. */
  function renderStale() {
    var box = $('stale');
    var hasData = hallId ? !!st.data : !!st.halls;
    if (st.failing && hasData && st.lastOkAt != null) {
      var n = Math.max(0, Math.floor((Date.now() - st.lastOkAt) / 1000));
      box.textContent = t('stale', { n: n });
      box.hidden = false;
      document.body.classList.add('is-stale');
    } else {
      box.hidden = true;
      box.textContent = '';
      document.body.classList.remove('is-stale');
    }
  }

  // ------------------------------------------------------------------ polling

  function apiUrl() {
    return hallId ? '/api/halls/' + encodeURIComponent(hallId) + '/now' : '/api/halls';
  }

  /** Figures arrived (from the stream or a poll). */
  function received(body, notFound) {
    st.failing = false;
    st.lastOkAt = Date.now();
    st.notFound = !!notFound;
    if (notFound) st.data = null;
    else if (hallId) { noticeAlerts(body); st.data = body; }
    else st.halls = body;
  }

  /** Server-sent events: the worker pushes the hall's figures after each batch that changed
   * them. `event: poll` (another worker holds the hall, or this one is at its stream
   * limit) or a stream that keeps failing: poll /now instead. */
  function stream() {
    var es = new EventSource('/api/halls/' + encodeURIComponent(hallId) + '/events');
    var errors = 0;
    var toPolling = function () {
      es.close();
      if (st.mode === 'poll') return;
      st.mode = 'poll';
      document.body.setAttribute('data-transport', 'poll');
      poll();
    };
    document.body.setAttribute('data-transport', 'sse');
    es.addEventListener('now', function (e) {
      var body;
      try { body = JSON.parse(e.data); } catch (err) { return; }
      errors = 0;
      received(body, false);
      render();
    });
    es.addEventListener('poll', toPolling);
    es.onerror = function () {
      errors += 1;
      st.failing = true;
      renderStale();
      // closed for good (an answer that is not a stream), or failing again and again
      if (es.readyState === 2 || errors >= 3) toPolling();
    };
  }

  function poll() {
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, Math.max(4000, pollMs)) : null;
    fetch(apiUrl(), { cache: 'no-store', headers: { Accept: 'application/json' }, signal: ctrl ? ctrl.signal : undefined })
      .then(function (r) {
        if (r.status === 404 && hallId) return { notFound: true };
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json().then(function (j) { return { body: j }; });
      })
      .then(function (res) {
        received(res.body, res.notFound);
      }, function () {
        st.failing = true;
      })
      .then(function () {
        if (timer) clearTimeout(timer);
        render();
        setTimeout(poll, pollMs);
      });
  }

  function setLang(next) {
    lang = next;
    storeLang(lang);
    params.set('lang', lang);
    try { window.history.replaceState(null, '', '?' + params.toString() + window.location.hash); } catch (e) { /* ignore */ }
    render();
  }

  $('lang-toggle').addEventListener('click', function () { setLang(lang === 'zh' ? 'en' : 'zh'); });
  $('sound-toggle').addEventListener('click', function () { setMuted(!sound.muted); });
  // any tap or key on the page lets the browser start the tones
  ['pointerdown', 'keydown', 'touchstart'].forEach(function (ev) {
    document.addEventListener(ev, unlockSound, { passive: true });
  });
  window.addEventListener('resize', function () { st.pageSize = 0; applyPage(); fitScreen(); });
  setInterval(renderStale, 1000);
  setInterval(rotatePage, rotateMs);
  render();
  if (st.mode === 'sse') stream();
  else poll();
}());
