// The sandbox page: one person's chat at a time, drawn from /api/state; plain JS, no build.
"use strict";

const view = { person: null, revision: null, generation: 0, seen: new Set(), primed: new Set(),
  data: null };
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function status(text) { $("status").textContent = text; }

// --- Telegram's formatting: entities (UTF-16 offsets, as JavaScript strings count) to HTML ---
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[c]);
}

function safeUrl(url) { return /^(https?:|tg:)/i.test(url || "") ? url : "#"; }

function wrap(entity, inner, text) {
  const tags = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code" };
  if (tags[entity.type]) return `<${tags[entity.type]}>${inner}</${tags[entity.type]}>`;
  switch (entity.type) {
    case "pre": return `<pre>${inner}</pre>`;
    case "text_link":
      return `<a href="${escapeHtml(safeUrl(entity.url))}" target="_blank" rel="noopener">${inner}</a>`;
    case "url": {
      const url = text.slice(entity.offset, entity.offset + entity.length);
      return `<a href="${escapeHtml(safeUrl(url))}" target="_blank" rel="noopener">${inner}</a>`;
    }
    case "spoiler": return `<span class="spoiler">${inner}</span>`;
    case "blockquote": case "expandable_blockquote": return `<blockquote>${inner}</blockquote>`;
    case "bot_command": return `<span class="command">${inner}</span>`;
    default: return inner;
  }
}

function renderRange(text, start, end, entities) {
  let html = "", pos = start, i = 0;
  while (i < entities.length) {
    const entity = entities[i], stop = entity.offset + entity.length, inner = [];
    i += 1;
    while (i < entities.length && entities[i].offset < stop) { inner.push(entities[i]); i += 1; }
    html += escapeHtml(text.slice(pos, entity.offset));
    html += wrap(entity, renderRange(text, entity.offset, stop, inner), text);
    pos = stop;
  }
  return html + escapeHtml(text.slice(pos, end));
}

function formatted(text, entities) {
  const sorted = [...entities].sort((a, b) => a.offset - b.offset || b.length - a.length);
  return renderRange(text, 0, text.length, sorted);
}

// --- drawing -------------------------------------------------------------------------------
function drawPeople(data) {
  const list = $("people");
  list.replaceChildren(...data.people.map((p) => {
    const li = document.createElement("li"), button = document.createElement("button");
    button.type = "button";
    button.dataset.person = p.id;
    button.className = p.id === data.person.id ? "current" : "";
    button.innerHTML = `${escapeHtml(p.name)}<small>${p.role} · ${p.language || "—"}</small>`;
    button.addEventListener("click", () => switchTo(p.id));
    li.append(button);
    return li;
  }));
}

function drawMessages(data) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const before = box.childElementCount;
  box.replaceChildren(...data.messages.map((m) => {
    const li = document.createElement("li"), bubble = document.createElement("div");
    bubble.className = m.mine ? "message mine" : "message";
    bubble.dataset.messageId = m.id;
    bubble.innerHTML = formatted(m.text, m.entities)
      + (m.edited ? '<span class="meta">edited</span>' : "");
    li.append(bubble);
    if (m.keyboard.length) li.append(keyboard(m));
    return li;
  }));
  if (atBottom || box.childElementCount !== before) box.scrollTop = box.scrollHeight;
}

function keyboard(message) {
  const board = document.createElement("div");
  board.className = "keyboard";
  for (const row of message.keyboard) {
    const line = document.createElement("div");
    line.className = "kb-row";
    for (const b of row) {
      let el;
      if (b.url) {
        el = document.createElement("a");
        el.href = safeUrl(b.url);
        el.target = "_blank";
      } else {
        el = document.createElement("button");
        el.type = "button";
        el.addEventListener("click", () => press(message.id, b.callback_data));
      }
      el.textContent = b.text;
      line.append(el);
    }
    board.append(line);
  }
  return board;
}

function drawMenu(data, filter) {
  const menu = $("menu");
  const shown = data.commands.filter((c) => ("/" + c.command).startsWith(filter || "/"));
  menu.replaceChildren(...shown.map((c) => {
    const button = document.createElement("button");
    button.type = "button";
    button.innerHTML = `/${escapeHtml(c.command)}<span class="desc">${escapeHtml(c.description)}</span>`;
    button.addEventListener("click", () => { menu.hidden = true; $("text").value = ""; say("/" + c.command); });
    return button;
  }));
  if (!shown.length) menu.hidden = true;
}

function drawTools(data) {
  $("now").textContent = data.clock.now.replace("T", " ");
  const hours = data.clock.offset_minutes / 60;
  $("offset").textContent = hours ? `(+${Number.isInteger(hours) ? hours : hours.toFixed(1)} h)` : "";
  $("faults").replaceChildren(...data.faults.map((f) => {
    const li = document.createElement("li");
    const who = f.person ? ` (${view.data.people.find((p) => p.id === f.person)?.name || f.person})` : "";
    li.textContent = `${f.kind}${who}: ${f.seconds_left} s left`;
    return li;
  }));
}

function showAnswers(data) {
  const fresh = data.answers.filter((a) => !view.seen.has(a.id));
  fresh.forEach((a) => view.seen.add(a.id));
  if (!view.primed.has(data.person.id)) { view.primed.add(data.person.id); return; }
  for (const answer of fresh) {
    if (answer.alert) {
      $("alert-text").textContent = answer.text;
      $("alert").hidden = false;
    } else {
      toast(answer.text);
    }
  }
}

let toastTimer = null;
function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

function draw(data) {
  view.data = data;
  view.revision = data.revision;
  $("who").textContent = `${data.person.name} · ${data.person.role}`;
  $("language").value = data.person.language || "en";
  drawPeople(data);
  drawMessages(data);
  drawTools(data);
  showAnswers(data);
  if (!$("menu").hidden) drawMenu(data, $("text").value);
}

// --- talking to the sandbox ----------------------------------------------------------------
async function refresh(wait) {
  const generation = view.generation;
  let path = `/api/state?person=${view.person}`;
  if (wait && view.revision !== null) path += `&since=${view.revision}`;
  const data = await api(path);
  if (generation === view.generation && data.person.id === view.person) draw(data);
}

async function follow() {
  for (;;) {
    try { await refresh(true); } catch (error) {
      status(`lost the sandbox: ${error.message}; retrying`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function act(work) {
  try { await work(); status(""); } catch (error) { status(`error: ${error.message}`); }
  // The bot answers within moments; the long poll draws it, this draws our own side now.
  await refresh(false).catch(() => {});
}

function switchTo(id) {
  view.person = id;
  view.generation += 1;
  view.revision = null;
  $("menu").hidden = true;
  localStorage.setItem("sandbox-person", String(id));
  refresh(false).catch((error) => status(error.message));
}

function say(text) { return act(() => api("/api/send", { person: view.person, text })); }
function press(messageId, data) {
  return act(() => api("/api/press", { person: view.person, message_id: messageId, data }));
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  $("text").value = "";
  $("menu").hidden = true;
  say(text);
});
$("text").addEventListener("input", () => {
  const text = $("text").value;
  $("menu").hidden = !(text.startsWith("/") && !text.includes(" "));
  if (!$("menu").hidden) drawMenu(view.data, text);
});
$("menu-button").addEventListener("click", () => {
  $("menu").hidden = !$("menu").hidden;
  if (!$("menu").hidden) drawMenu(view.data, "/");
});
$("messages").addEventListener("click", (event) => {
  const target = event.target;
  if (target.classList.contains("spoiler")) target.classList.add("shown");
  if (target.classList.contains("command")) say(target.textContent);
});
$("language").addEventListener("change", () => act(() =>
  api("/api/language", { person: view.person, language: $("language").value })));
$("add-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  act(async () => {
    const person = await api("/api/people", Object.fromEntries(form));
    event.target.reset();
    switchTo(person.id);
  });
});
document.querySelectorAll("[data-minutes]").forEach((button) => button.addEventListener("click",
  () => act(async () => {
    const result = await api("/api/clock", { minutes: Number(button.dataset.minutes) });
    const failed = Object.entries(result.jobs).filter(([, r]) => r !== "ok").map(([j]) => j);
    toast(`Clock moved on; jobs ran${failed.length ? ` (not ok: ${failed.join(", ")})` : ""}.`);
  })));
document.querySelectorAll("[data-fault]").forEach((button) => button.addEventListener("click",
  () => act(() => api("/api/fault", { kind: button.dataset.fault,
    seconds: Number($("fault-seconds").value), person: view.person }))));
$("calm").addEventListener("click", () => act(() => api("/api/calm", {})));
$("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });

(async function start() {
  const wanted = Number(new URLSearchParams(location.search).get("person")
    || localStorage.getItem("sandbox-person")) || 1001;
  view.person = wanted;
  try { await refresh(false); } catch (error) {
    view.person = 1001;
    await refresh(false).catch((e) => status(e.message));
  }
  follow();
})();
