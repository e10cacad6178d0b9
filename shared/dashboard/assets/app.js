// GitPulse dashboard: courses → course → team → student, drawn from the
// data API of the same origin only. A teacher signs in with GitLab (the
// API's HttpOnly session cookie, which this script never sees) or types an
// API key once, kept in this tab's sessionStorage (never in a URL, a
// cookie or localStorage).
// Charts are hand-written SVG, each with a text label and a table beside
// it; every figure shown is one the API answered (the browser test in
// shared/dashboard compares them).
'use strict';

(() => {
  const KEY = 'gitpulse.apiKey';
  const API = new URL('../api/v1/', document.baseURI);
  const SVGNS = 'http://www.w3.org/2000/svg';
  const main = document.getElementById('main');
  const crumbs = document.getElementById('crumbs');
  const forget = document.getElementById('forget');
  const WEEKS = 8; // sparkline length on the course page
  let generation = 0; // the render in force; older renders drop their results
  // me is the GitLab sign-in (GET auth/me: user, courses, CSRF token), or
  // null; signInOffered says whether the API has sign-in configured.
  let me = null;
  let signInOffered = false;

  // ---- DOM helpers --------------------------------------------------------

  // el builds an HTML element: attributes (on* are listeners) and children.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    return fill(e, attrs, kids);
  }

  // svg builds an SVG element the same way.
  function svg(tag, attrs, ...kids) {
    return fill(document.createElementNS(SVGNS, tag), attrs, kids);
  }

  function fill(e, attrs, kids) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      e.append(kid instanceof Node ? kid : String(kid));
    }
    return e;
  }

  // table is a scrollable, labelled table: head is a list of [label, class]
  // or labels, rows a list of <tr>.
  function table(label, head, rows, caption, cls) {
    return el('div', { class: 'scroll', role: 'region', 'aria-label': label, tabindex: 0 },
      el('table', { class: cls },
        caption && el('caption', {}, caption),
        el('thead', {}, el('tr', {}, head.map((c) => {
          const [text, klass] = Array.isArray(c) ? c : [c, ''];
          return el('th', { scope: 'col', class: klass || null }, text);
        }))),
        el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: head.length }, 'Nothing here yet.')))));
  }

  // num is a numeric cell the test reads back (data-f names the API field).
  function num(field, value, ...extra) {
    return el('td', { class: 'num', 'data-f': field }, el('span', { class: 'v' }, value ?? 0), extra);
  }

  const enc = encodeURIComponent;
  const href = (...parts) => '#/' + parts.map((p) => enc(p)).join('/');

  // ---- formatting ---------------------------------------------------------

  function when(t) {
    if (!t) return 'never';
    return t.slice(0, 16).replace('T', ' ') + ' UTC';
  }

  function ago(t) {
    if (!t) return 'never';
    const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
    if (s < 90) return 'just now';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 129600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  }

  const pct = (f) => Math.round((f || 0) * 100) + '%';
  const fixed = (x) => (x === undefined || x === null ? '–' : Number(x).toFixed(2));

  // ---- weeks (ISO weeks, Mondays, UTC) ------------------------------------

  function monday(d) {
    const x = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
    x.setUTCDate(x.getUTCDate() - ((x.getUTCDay() + 6) % 7));
    return x;
  }
  const day = (d) => d.toISOString().slice(0, 10);

  // lastWeeks is the Mondays of the n weeks up to this one, oldest first.
  function lastWeeks(n) {
    const m = monday(new Date());
    const out = [];
    for (let i = n - 1; i >= 0; i--) {
      const w = new Date(m);
      w.setUTCDate(m.getUTCDate() - 7 * i);
      out.push(day(w));
    }
    return out;
  }

  // perWeek sums commits by day into the given weeks.
  function perWeek(byDay, weeks) {
    const counts = Object.fromEntries(weeks.map((w) => [w, 0]));
    for (const [d, n] of Object.entries(byDay || {})) {
      const w = day(monday(new Date(d + 'T00:00:00Z')));
      if (w in counts) counts[w] += n;
    }
    return weeks.map((w) => counts[w]);
  }

  // ---- the API --------------------------------------------------------------

  class KeyRefused extends Error {}

  // get reads one API answer. The browser's cache keeps it with its ETag
  // (the API says Cache-Control: no-cache), so asking again is a 304.
  async function get(path) {
    const key = sessionStorage.getItem(KEY);
    if (!key && !me) throw new KeyRefused('');
    const res = await fetch(new URL(path, API), key ? {
      headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' },
      cache: 'no-cache', credentials: 'omit', referrerPolicy: 'no-referrer',
    } : {
      headers: { Accept: 'application/json' },
      cache: 'no-cache', credentials: 'same-origin', referrerPolicy: 'no-referrer',
    });
    if (res.status === 401) {
      if (!key) {
        me = null;
        throw new KeyRefused('Your GitLab sign-in ended. Sign in again.');
      }
      sessionStorage.removeItem(KEY);
      throw new KeyRefused('The API refused the key (401 unauthorized). Enter it again.');
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error((body && body.message) || `${path}: ${res.status}`);
    return body;
  }

  // all reads every page of a listing, 100 items a page.
  async function all(path) {
    let items = [];
    let cursor = '';
    for (let i = 0; i < 50; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await get(path + sep + 'limit=100' + (cursor ? '&cursor=' + enc(cursor) : ''));
      items = items.concat(page.items || []);
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    return items;
  }

  // ---- charts -------------------------------------------------------------

  // sparkline draws weekly counts as bars, labelled in text for every reader.
  function sparkline(counts, weeks, what) {
    const max = Math.max(1, ...counts);
    const w = 7;
    const hgt = 22;
    const label = `${what} per week, ${weeks.length} weeks from ${weeks[0]}: ${counts.join(', ')}`;
    return svg('svg', { class: 'spark', width: counts.length * w, height: hgt, viewBox: `0 0 ${counts.length * w} ${hgt}`,
      role: 'img', 'aria-label': label, 'data-weeks': counts.join(',') },
    svg('title', {}, label),
    counts.map((n, i) => {
      const bh = n ? Math.max(2, Math.round((n / max) * (hgt - 2))) : 1;
      return svg('rect', { x: i * w, y: hgt - bh, width: w - 2, height: bh, class: n ? null : 'zero' });
    }));
  }

  // meter is a small bar of a share (0..1) beside a number.
  function meter(share, label) {
    const width = 60;
    return svg('svg', { class: 'meter', width, height: 10, viewBox: `0 0 ${width} 10`, 'aria-hidden': 'true' },
      svg('title', {}, label),
      svg('rect', { class: 'track', x: 0.5, y: 0.5, width: width - 1, height: 9 }),
      svg('rect', { class: 'fill', x: 0.5, y: 0.5, width: Math.max(0, Math.round((width - 1) * Math.min(1, share || 0))), height: 9 }));
  }

  const SERIES = [['commits', 'Commits'], ['mrs', 'Merge requests'], ['reviews', 'Reviews'], ['issues_closed', 'Issues closed']];

  // timeline draws weekly figures as grouped bars; the table after it
  // holds the same numbers.
  function timeline(rows, label) {
    // Drawn at the width it is shown at, so that its labels keep their size.
    const width = Math.round(Math.max(320, Math.min(1200, main.clientWidth - 40)));
    const height = 200;
    const pad = { l: 28, r: 6, t: 8, b: 28 };
    const max = Math.max(1, ...rows.flatMap((r) => SERIES.map(([k]) => r[k] || 0)));
    const slot = (width - pad.l - pad.r) / Math.max(1, rows.length);
    const bar = Math.max(1, (slot - 4) / SERIES.length);
    const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / max);
    const summary = rows.map((r) => `${r.week}: ` + SERIES.map(([k, n]) => `${n.toLowerCase()} ${r[k] || 0}`).join(', ')).join('; ');
    const every = Math.max(1, Math.ceil(rows.length / 8));
    return svg('svg', { class: 'timeline', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${label}. ${summary}` },
      svg('title', {}, label),
      svg('line', { x1: pad.l, x2: width - pad.r, y1: y(0), y2: y(0) }),
      svg('text', { x: 2, y: y(max) + 4 }, max),
      svg('text', { x: 2, y: y(0) }, 0),
      rows.map((r, i) => [
        SERIES.map(([k], j) => {
          const v = r[k] || 0;
          return svg('rect', { class: 's' + (j + 1), x: pad.l + i * slot + 2 + j * bar, y: y(v), width: Math.max(1, bar - 1), height: y(0) - y(v) });
        }),
        i % every === 0 && svg('text', { x: pad.l + i * slot + 2, y: height - 10 }, r.week.slice(5)),
      ]));
  }

  function legend() {
    return el('ul', { class: 'legend', 'aria-hidden': 'true' }, SERIES.map(([, n], j) => el('li', {}, el('span', { class: 'sw s' + (j + 1) }), n)));
  }

  function weeklyTable(rows, label) {
    return table(label, ['Week (Monday)', ['Commits', 'num'], ['MRs', 'num'], ['Reviews', 'num'], ['Issues closed', 'num']],
      rows.map((r) => el('tr', { 'data-key': r.week }, el('th', { scope: 'row' }, r.week),
        num('commits', r.commits), num('mrs', r.mrs), num('reviews', r.reviews), num('issues_closed', r.issues_closed))));
  }

  function weeklyPanel(rows, label) {
    if (!rows || !rows.length) return el('p', { class: 'note' }, 'No weeks in the period.');
    return el('div', { id: 'weekly' }, legend(), timeline(rows, label), weeklyTable(rows, label + ' (table)'));
  }

  // ---- page frame -----------------------------------------------------------

  function breadcrumb(items) {
    crumbs.replaceChildren(el('ol', {}, items.map(([text, link], i) => el('li', {},
      i === items.length - 1 ? el('span', { 'aria-current': 'page' }, text) : el('a', { href: link }, text)))));
  }

  // show puts a finished page in place (unless a newer render started),
  // names it for the test and moves the focus to it.
  function show(gen, page, title, nodes, trail) {
    if (gen !== generation) return;
    if (trail) breadcrumb(trail);
    document.title = title + ' · GitPulse';
    main.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
    document.body.dataset.page = page;
    document.body.dataset.ready = page;
    main.focus({ preventScroll: true });
  }

  function signin(message) {
    crumbs.replaceChildren();
    forget.hidden = true;
    const input = el('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'key-help' });
    const form = el('form', { class: 'signin', onsubmit: (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (!v) return;
      sessionStorage.setItem(KEY, v);
      input.value = '';
      render();
    } },
    el('h1', {}, 'GitPulse dashboard'),
    message && el('p', { class: 'error', role: 'alert' }, message),
    signInOffered && el('p', {}, el('a', { id: 'gitlab-signin', class: 'button', href: '../api/v1/auth/login?next=' + enc(location.pathname + location.hash) }, 'Sign in with GitLab')),
    signInOffered && el('p', { class: 'help' }, 'Teachers and assistants see the courses whose GitLab group they are Reporter or higher of. Or use an API key:'),
    el('label', { for: 'key' }, 'API key'),
    input,
    el('p', { id: 'key-help', class: 'help' }, 'A GitPulse API key with the reader or admin role (make run prints one; make api-key NAME=me ROLE=reader makes one). ' +
      'It stays in this browser tab only (sessionStorage) until the tab closes or you press “Forget the key”; it is never put in a link or a cookie.'),
    el('button', { type: 'submit' }, 'Open the dashboard'));
    main.replaceChildren(form);
    document.title = 'Sign in · GitPulse';
    document.body.dataset.page = 'signin';
    document.body.dataset.ready = 'signin';
    input.focus();
  }

  // ---- pages ----------------------------------------------------------------

  // Courses: 1 API call.
  async function coursesPage(gen) {
    const courses = await all('courses');
    const trail = [['Courses', '#/']];
    const rows = courses.map((c) => el('tr', { 'data-key': c.id },
      el('th', { scope: 'row' }, el('a', { href: href('courses', c.id) }, c.name || c.path)),
      el('td', {}, c.path), num('id', c.id), el('td', { class: 'hide-narrow' }, c.source), el('td', { class: 'hide-narrow' }, when(c.added_at))));
    show(gen, 'courses', 'Courses', [
      el('h1', {}, 'Courses'),
      el('p', { class: 'sub' }, 'Each course is a GitLab group; its subgroups are the teams. Open one to see its teams and students.'),
      el('div', { id: 'courses' }, table('Courses', ['Course', 'GitLab group', ['Id', 'num'], ['Source', 'hide-narrow'], ['Added', 'hide-narrow']], rows)),
    ], trail);
  }

  // inactiveKeys is the set of people the teams listing names inactive.
  function inactiveSet(teams) {
    const out = new Set();
    for (const t of teams) for (const m of t.summary.inactive_members || []) out.add(m.username || m.name);
    return out;
  }

  // quiet tells a team with no activity within the listing's window.
  function quiet(t) {
    const last = t.summary.last_activity;
    return !last || Date.now() - Date.parse(last) > t.summary.inactive_days * 86400000;
  }

  // dataAsOf is the oldest aggregate among a team's projects.
  function dataAsOf(t) {
    const times = t.projects.map((p) => p.updated_at).filter((x) => x && !x.startsWith('0001'));
    return times.length ? times.sort()[0] : null;
  }

  function courseFacts(course) {
    const s = course.sync || {};
    return el('ul', { class: 'facts', id: 'freshness' },
      el('li', {}, 'Last sync: ', el('b', { 'data-f': 'last_success' }, ago(s.last_success)), ' ', el('span', { class: 'note' }, '(' + when(s.last_success) + ')')),
      el('li', {}, 'Last run: ', el('b', {}, ago(s.last_run))),
      s.last_error && el('li', { class: 'error' }, 'Last error ' + ago(s.last_error_at) + ': ' + s.last_error));
  }

  // Course overview: 3 API calls (course, teams, students).
  async function coursePage(gen, id) {
    const [course, teams, students] = await Promise.all([get(`courses/${enc(id)}`), all(`courses/${enc(id)}/teams`), all(`courses/${enc(id)}/students`)]);
    const c = course.course;
    const trail = [['Courses', '#/'], [c.name || c.path, href('courses', id)]];
    const weeks = lastWeeks(WEEKS);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const inactive = inactiveSet(teams);
    const teamRows = teams.map((t) => {
      const byDay = {};
      for (const p of t.projects) for (const [d, n] of Object.entries(p.stats.commits_by_day || {})) byDay[d] = (byDay[d] || 0) + n;
      const s = t.summary;
      const isQuiet = quiet(t);
      return el('tr', { 'data-key': t.id },
        el('th', { scope: 'row' }, el('a', { href: href('courses', id, 'teams', t.id) }, t.name), isQuiet && el('span', { class: 'flag', 'data-flag': 'quiet' }, 'quiet')),
        el('td', {}, sparkline(perWeek(byDay, weeks), weeks, 'Commits')),
        num('members', s.members), num('commits_last_7_days', s.commits_last_7_days), num('commits', s.commits),
        num('merge_requests_merged', s.merge_requests_merged), num('issues_closed', s.issues_closed),
        el('td', { class: 'hide-narrow' }, ago(s.last_activity)),
        el('td', { 'data-f': 'inactive_members' }, (s.inactive_members || []).map((m, i) => [i ? ', ' : '', m.name])));
    });
    const studentRows = students.map((st) => {
      const team = st.team_id || (st.projects && st.projects[0] && st.projects[0].team_id) || '';
      const isInactive = inactive.has(st.username || st.name);
      return el('tr', { 'data-key': st.key },
        el('th', { scope: 'row' }, el('a', { href: href('courses', id, 'students', st.key) }, st.name), isInactive && el('span', { class: 'flag bad', 'data-flag': 'inactive' }, 'inactive')),
        el('td', {}, st.team_name || teamName[team] || team),
        num('commits', st.commits), num('mrs_opened', st.mrs_opened), num('reviews_given', st.reviews_given),
        num('issues_closed', st.issues_closed), num('active_days', st.active_days), el('td', { class: 'hide-narrow' }, ago(st.last_activity)));
    });
    const quietCount = teams.filter(quiet).length;
    show(gen, 'course', c.name || c.path, [
      el('h1', {}, c.name || c.path),
      el('p', { class: 'sub' }, c.path, ' · ', teams.length, ' teams · ', students.length, ' students'),
      courseFacts(course),
      el('h2', { id: 'teams-h' }, 'Teams'),
      el('p', { class: 'note' }, `“quiet”: no activity (commits, merge requests, issues, notes) in the last ${teams[0] ? teams[0].summary.inactive_days : 14} days; ` +
        `${quietCount} of ${teams.length} teams. The bars are commits per week over the last ${WEEKS} weeks (Monday to Sunday, UTC).`),
      el('div', { id: 'teams' }, table('Teams', ['Team', 'Weekly commits', ['Members', 'num'], ['Commits 7 d', 'num'], ['Commits', 'num'], ['MRs merged', 'num'],
        ['Issues closed', 'num'], ['Last activity', 'hide-narrow'], 'Inactive members'], teamRows)),
      el('h2', { id: 'students-h' }, 'Students'),
      el('p', { class: 'note' }, '“inactive”: named by the teams listing as a member with no activity in its window.'),
      el('div', { id: 'students' }, table('Students', ['Student', 'Team', ['Commits', 'num'], ['MRs opened', 'num'], ['Reviews given', 'num'], ['Issues closed', 'num'],
        ['Active days', 'num'], ['Last activity', 'hide-narrow']], studentRows)),
    ], trail);
  }

  // heatmap is the review matrix as a table: reviewer rows, author columns,
  // each cell the notes, approvals and merges a reviewer gave an author.
  function heatmap(rev) {
    const people = rev.people || [];
    const cell = {};
    let max = 0;
    for (const p of rev.pairs || []) {
      const total = (p.notes || 0) + (p.approvals || 0) + (p.merges || 0);
      cell[p.reviewer + '\n' + p.author] = { ...p, total };
      max = Math.max(max, total);
    }
    const level = (n) => (n === 0 ? 0 : Math.min(4, 1 + Math.floor((3 * n) / Math.max(1, max))));
    const rows = people.map((r) => el('tr', { 'data-key': r.key }, el('th', { scope: 'row' }, r.name),
      people.map((a) => {
        if (a.key === r.key) return el('td', { class: 'num self', 'aria-label': 'self' }, '–');
        const c = cell[r.key + '\n' + a.key] || { notes: 0, approvals: 0, merges: 0, total: 0 };
        const text = `${r.name} → ${a.name}: ${c.notes} review notes, ${c.approvals} approvals, ${c.merges} merges`;
        return el('td', { class: 'num h' + level(c.total), 'data-author': a.key, 'data-notes': c.notes, 'data-approvals': c.approvals, 'data-merges': c.merges, title: text, 'aria-label': text }, c.total);
      })));
    const name = Object.fromEntries(people.map((p) => [p.key, p.name]));
    const pairRows = (rev.pairs || []).map((p) => el('tr', { 'data-key': p.reviewer + ' ' + p.author },
      el('th', { scope: 'row' }, name[p.reviewer] || p.reviewer), el('td', {}, name[p.author] || p.author),
      num('notes', p.notes), num('approvals', p.approvals), num('merges', p.merges)));
    return [
      el('div', { id: 'reviews' },
        el('ul', { class: 'legend', 'aria-hidden': 'true' }, [0, 1, 2, 3, 4].map((l) => el('li', {}, el('span', { class: 'sw h' + l }), l === 0 ? 'none' : l === 4 ? 'most' : ''))),
        table('Review matrix', ['Reviewer ↓ · author →', ...people.map((p) => [p.name, 'num'])], rows,
          'Each cell: review notes on the author’s merge requests + approvals of them + merges of them, by the row’s reviewer (the three counts on hover, and in the list below).', 'heat')),
      el('details', { id: 'pairs' }, el('summary', {}, 'Reviews by kind, pair by pair'),
        table('Reviews by kind', ['Reviewer', 'Author', ['Review notes', 'num'], ['Approvals', 'num'], ['Merges', 'num']], pairRows)),
    ];
  }

  // Team: 5 API calls (course, teams, share, reviews, weekly).
  async function teamPage(gen, id, teamID) {
    const base = `courses/${enc(id)}/teams/${enc(teamID)}`;
    const [course, teams, share, rev, weekly] = await Promise.all([
      get(`courses/${enc(id)}`), all(`courses/${enc(id)}/teams`), get(base + '/share'), get(base + '/reviews'), get(base + '/weekly')]);
    const c = course.course;
    const t = teams.find((x) => x.id === teamID);
    if (!t) throw new Error(`No team ${teamID} in course ${id}.`);
    const trail = [['Courses', '#/'], [c.name || c.path, href('courses', id)], [t.name, href('courses', id, 'teams', teamID)]];
    const given = Object.fromEntries((rev.students || []).map((s) => [s.key, s]));
    const metric = (s, k) => [num(k, s[k], el('span', { class: 'share', 'data-share': s[k + '_share'] }, pct(s[k + '_share'])))];
    const barRows = (share.students || []).map((s) => el('tr', { 'data-key': s.key },
      el('th', { scope: 'row' }, el('a', { href: href('courses', id, 'students', s.key) }, s.name)),
      ['commits', 'lines', 'mrs', 'reviews'].map((k) => {
        const td = metric(s, k)[0];
        td.prepend(meter(s[k + '_share'], `${s.name}: ${pct(s[k + '_share'])} of the team's ${k}`));
        return td;
      }),
      num('given', given[s.key] ? given[s.key].given : 0), num('received', given[s.key] ? given[s.key].received : 0)));
    const b = share.balance || {};
    const s = t.summary;
    show(gen, 'team', t.name, [
      el('h1', {}, t.name),
      el('p', { class: 'sub' }, t.full_path, ' · projects: ', t.projects.map((p, i) => [i ? ', ' : '', projectLink(p)])),
      el('ul', { class: 'facts', id: 'summary' },
        el('li', {}, 'Members ', el('b', { 'data-f': 'members' }, s.members)),
        el('li', {}, 'Commits ', el('b', { 'data-f': 'commits' }, s.commits)),
        el('li', {}, 'MRs merged ', el('b', { 'data-f': 'merge_requests_merged' }, s.merge_requests_merged)),
        el('li', {}, 'Last activity ', el('b', {}, ago(s.last_activity))),
        el('li', {}, 'Data as of ', el('b', {}, ago(dataAsOf(t)))),
        (s.inactive_members || []).length > 0 && el('li', { class: 'flag bad' }, 'Inactive: ' + s.inactive_members.map((m) => m.name).join(', '))),
      el('h2', {}, 'Who does the work'),
      el('p', { class: 'note', id: 'balance' }, `Balance (${b.metric || 'gini'} coefficient: 0 when the work is evenly shared, higher the more one person carries it, (n−1)/n when one does all): commits `,
        el('b', { 'data-f': 'commits' }, fixed(b.commits)), ', lines ', el('b', { 'data-f': 'lines' }, fixed(b.lines)),
        ', merge requests ', el('b', { 'data-f': 'mrs' }, fixed(b.mrs)), ', reviews ', el('b', { 'data-f': 'reviews' }, fixed(b.reviews)), '.'),
      el('div', { id: 'share' }, table('Work share per student', ['Student', ['Commits', 'num'], ['Lines changed', 'num'], ['Merge requests', 'num'], ['Reviews', 'num'],
        ['Reviews given', 'num'], ['Reviews received', 'num']], barRows, 'Bars and percentages: the student’s share of the team’s total.')),
      el('h2', {}, 'Who reviews whom'),
      heatmap(rev),
      el('h2', {}, 'Week by week'),
      weeklyPanel(weekly.team, `${t.name}: activity per week`),
    ], trail);
  }

  // projectLink names a project, linking to GitLab only when the address
  // is not a local one (the simulator's).
  function projectLink(p) {
    try {
      const u = new URL(p.web_url);
      if (u.protocol === 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)) return el('a', { href: u.href, rel: 'noreferrer' }, p.name);
    } catch { /* no usable address: the name alone */ }
    return p.name;
  }

  // Student: 4 API calls (course, students, the team's weekly and reviews).
  async function studentPage(gen, id, key) {
    const [course, students] = await Promise.all([get(`courses/${enc(id)}`), all(`courses/${enc(id)}/students`)]);
    const st = students.find((x) => x.key === key);
    if (!st) throw new Error(`No student ${key} in course ${id}.`);
    const teamID = st.team_id || (st.projects && st.projects[0] && st.projects[0].team_id);
    const base = `courses/${enc(id)}/teams/${enc(teamID)}`;
    const [weekly, rev] = teamID ? await Promise.all([get(base + '/weekly'), get(base + '/reviews')]) : [null, null];
    const c = course.course;
    const trail = [['Courses', '#/'], [c.name || c.path, href('courses', id)], [st.team_name || teamID, href('courses', id, 'teams', teamID)], [st.name, href('courses', id, 'students', key)]];
    const fields = [['commits', 'Commits'], ['additions', 'Lines added'], ['deletions', 'Lines deleted'], ['mrs_opened', 'Merge requests opened'],
      ['mrs_merged', 'Merge requests merged'], ['reviews_given', 'Reviews given'], ['reviews_received', 'Reviews received'], ['approvals_given', 'Approvals given'],
      ['issues_opened', 'Issues opened'], ['issues_closed', 'Issues closed'], ['active_days', 'Active days (distinct, across projects)']];
    const mine = weekly && (weekly.students || []).find((x) => x.key === key);
    const names = Object.fromEntries(((rev && rev.people) || []).map((p) => [p.key, p.name]));
    const pairs = (rev && rev.pairs) || [];
    const pairRow = (p, other) => el('tr', { 'data-key': other }, el('th', { scope: 'row' }, names[other] || other),
      num('notes', p.notes), num('approvals', p.approvals), num('merges', p.merges));
    const head = (who) => [who, ['Review notes', 'num'], ['Approvals', 'num'], ['Merges', 'num']];
    show(gen, 'student', st.name, [
      el('h1', {}, st.name),
      el('p', { class: 'sub' }, st.username ? '@' + st.username + ' · ' : '', 'team ', el('a', { href: href('courses', id, 'teams', teamID) }, st.team_name || teamID),
        ' · last activity ', ago(st.last_activity), ' (', when(st.last_activity), ')'),
      el('div', { id: 'figures' }, table('Figures', ['Figure', ['Count', 'num']],
        fields.map(([k, label]) => el('tr', { 'data-key': k }, el('th', { scope: 'row' }, label), num(k, st[k]))))),
      el('h2', {}, 'Week by week'),
      mine ? weeklyPanel(mine.weeks, `${st.name}: activity per week`) : el('p', { class: 'note' }, 'No weekly figures for this student.'),
      el('div', { class: 'cols' },
        el('div', { id: 'gave' }, el('h2', {}, 'Reviews given to'), table('Reviews given', head('Author'),
          pairs.filter((p) => p.reviewer === key).map((p) => pairRow(p, p.author)))),
        el('div', { id: 'got' }, el('h2', {}, 'Reviews received from'), table('Reviews received', head('Reviewer'),
          pairs.filter((p) => p.author === key).map((p) => pairRow(p, p.reviewer))))),
    ], trail);
  }

  // ---- router -------------------------------------------------------------------

  // whoAmI asks the API who is signed in with GitLab: 'in' (me set) on
  // 200; 'notstaff' on 403 (signed in, staff of no course), after drawing
  // the refusal page; else 'out'.
  async function whoAmI(gen) {
    const res = await fetch(new URL('auth/me', API), { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin', referrerPolicy: 'no-referrer' });
    const body = await res.json().catch(() => null);
    if (res.ok) {
      me = body;
      return 'in';
    }
    if (res.status === 403) {
      crumbs.replaceChildren();
      forget.hidden = false;
      forget.textContent = 'Sign out';
      show(gen, 'notstaff', 'Not staff', [el('h1', {}, 'No course to show'),
        el('p', { class: 'error', role: 'alert' }, (body && body.message) || 'You are not staff of any course GitPulse syncs.'),
        el('p', {}, 'GitPulse shows a course to the staff of its GitLab group (Reporter or higher). Ask the course’s teacher to add you there; students see nothing here.')]);
      me = { csrf_token: cookieValue('gitpulse_csrf') };
      return 'notstaff';
    }
    return 'out';
  }

  // cookieValue is the readable CSRF cookie (the session cookie is HttpOnly).
  function cookieValue(name) {
    const m = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
    return m ? m.slice(name.length + 1) : '';
  }

  async function render() {
    const gen = ++generation;
    delete document.body.dataset.ready;
    signInOffered = document.body.dataset.signin === 'gitlab';
    if (!sessionStorage.getItem(KEY)) {
      let state = 'out';
      try {
        // The readable CSRF cookie is there while a sign-in may be: only
        // then is auth/me asked (no 401 to log on a first visit).
        if (signInOffered && cookieValue('gitpulse_csrf')) state = await whoAmI(gen);
      } catch (err) {
        state = 'out';
      }
      if (gen !== generation || state === 'notstaff') return;
      if (state === 'out') {
        me = null;
        signin();
        return;
      }
    }
    forget.hidden = false;
    forget.textContent = me && !sessionStorage.getItem(KEY) ? 'Sign out' : 'Forget the key';
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    main.replaceChildren(el('p', { role: 'status' }, 'Loading…'));
    try {
      if (parts.length === 0) await coursesPage(gen);
      else if (parts.length === 2 && parts[0] === 'courses') await coursePage(gen, parts[1]);
      else if (parts.length === 4 && parts[0] === 'courses' && parts[2] === 'teams') await teamPage(gen, parts[1], parts[3]);
      else if (parts.length === 4 && parts[0] === 'courses' && parts[2] === 'students') await studentPage(gen, parts[1], parts[3]);
      else show(gen, 'missing', 'Not found', [el('h1', {}, 'No such page'), el('p', {}, el('a', { href: '#/' }, 'The courses'))]);
    } catch (err) {
      if (gen !== generation) return;
      if (err instanceof KeyRefused) {
        signin(err.message);
        return;
      }
      show(gen, 'error', 'Error', [el('h1', {}, 'Something went wrong'), el('p', { class: 'error', role: 'alert' }, err.message),
        el('p', {}, el('a', { href: '#/' }, 'Back to the courses'))]);
      document.body.dataset.ready = 'error';
    }
  }

  forget.addEventListener('click', async () => {
    if (me && !sessionStorage.getItem(KEY)) {
      await fetch(new URL('auth/logout', API), { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token || '' }, credentials: 'same-origin', referrerPolicy: 'no-referrer' }).catch(() => null);
      me = null;
    }
    sessionStorage.removeItem(KEY);
    render();
  });
  // The skip link moves the focus without touching the route in the hash.
  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', render);
  render();
})();
