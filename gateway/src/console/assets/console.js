// Linli console: the live board (SSE → re-read rows from the server), ages that tick, an
// optional sound for a new critical alarm. Everything else is server-rendered HTML.
(() => {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const zh = document.body.dataset.lang === "zh";
  const units = zh ? ["秒", "分钟", "小时", "天"] : [" s", " min", " h", " d"];

  function ages() {
    const now = Date.now();
    document.querySelectorAll(".age[data-since]").forEach((el) => {
      const s = Math.max(0, Math.floor((now - Number(el.dataset.since)) / 1000));
      el.textContent = s < 60 ? s + units[0]
        : s < 3600 ? Math.floor(s / 60) + units[1]
        : s < 86400 ? Math.floor(s / 3600) + units[2]
        : Math.floor(s / 86400) + units[3];
    });
  }
  setInterval(ages, 15000);

  // Sound: off until the person turns it on (browsers also require a click first).
  let sound = localStorage.getItem("linli-sound") === "1";
  let audio;
  function beep() {
    try {
      audio = audio || new AudioContext();
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.25, audio.currentTime);
      g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.7);
      o.connect(g).connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.7);
    } catch (_) { /* no audio: the colour and the title still say it */ }
  }
  const soundButton = $("#sound");
  if (soundButton) {
    soundButton.setAttribute("aria-pressed", String(sound));
    soundButton.addEventListener("click", () => {
      sound = !sound;
      localStorage.setItem("linli-sound", sound ? "1" : "0");
      soundButton.setAttribute("aria-pressed", String(sound));
      if (sound) beep();
    });
  }

  const board = $("#board");
  const baseTitle = document.title;
  const critical = () => new Set([...document.querySelectorAll(
    '#board .alarm[data-severity="critical"][data-status="open"]')].map((a) => a.dataset.id));

  function titleBadge() {
    const s = $("#summary");
    const n = s ? Number(s.dataset.critical) : 0;
    const open = s ? Number(s.dataset.open) : 0;
    document.title = (n ? "🔴 " + n + " · " : open ? "(" + open + ") " : "") + baseTitle;
  }

  let known = new Set();
  let pending = null;
  async function refresh() {
    pending = null;
    const r = await fetch("/console/board/rows", { credentials: "same-origin" });
    if (r.redirected && r.url.includes("/console/login")) { location.href = r.url; return; }
    if (!r.ok) return;
    board.innerHTML = await r.text();
    const now = critical();
    const fresh = [...now].filter((id) => !known.has(id));
    known = now;
    if (fresh.length) {
      fresh.forEach((id) => board.querySelector('.alarm[data-id="' + id + '"]')?.classList.add("new"));
      document.body.classList.add("flash");
      setTimeout(() => document.body.classList.remove("flash"), 4000);
      if (sound) beep();
    }
    titleBadge();
  }
  const soon = () => { if (!pending) pending = setTimeout(refresh, 80); };

  function listen(onEvent, live) {
    const es = new EventSource("/api/v1/alarms/stream");
    es.onopen = () => { if (live) { live.textContent = live.dataset.on; live.classList.add("on"); } onEvent(null); };
    ["alarm", "resync", "notification"].forEach((t) => es.addEventListener(t, onEvent));
    es.onerror = () => {
      if (live) { live.textContent = live.dataset.retry; live.classList.remove("on"); }
      // A refused stream (signed out) is not retried by the browser: check and start again.
      if (es.readyState === EventSource.CLOSED) setTimeout(() => { onEvent(null); listen(onEvent, live); }, 5000);
    };
  }

  if (board) {
    known = critical();
    titleBadge();
    listen(soon, $("#live"));
  }

  // An alarm page follows its alarm, unless a note is being typed.
  const head = $("[data-alarm-id]");
  if (head && !board) {
    listen((e) => {
      const note = $("#note");
      if (e && e.type === "alarm" && e.lastEventId === head.dataset.alarmId && !(note && note.value)) {
        location.reload();
      }
    }, null);
  }
})();
