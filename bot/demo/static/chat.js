// The demo's chat: draws one person's chat from the live feed (/api/live) and sends what they
// type and tap to the demo's API. The server owns all state; this only draws and forwards.
"use strict";

const params = new URLSearchParams(location.search);
const state = { person: params.get("as") || "buyer-en", seenAnswers: null, socket: null };

const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) showToast(answer.error || `error ${response.status}`);
  return response.ok ? answer : null;
}

// -- formatting: Telegram's entities (UTF-16 offsets, as JavaScript strings count) into HTML --

const TAGS = {
  bold: ["<b>", "</b>"], italic: ["<i>", "</i>"], underline: ["<u>", "</u>"],
  strikethrough: ["<s>", "</s>"], code: ["<code>", "</code>"], pre: ["<pre>", "</pre>"],
  spoiler: ['<span class="spoiler">', "</span>"], blockquote: ["<blockquote>", "</blockquote>"],
};

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function tagsOf(entity, text) {
  if (entity.type === "text_link") return [`<a href="${escapeHtml(entity.url)}" target="_blank" rel="noopener">`, "</a>"];
  if (entity.type === "url") {
    const url = text.substr(entity.offset, entity.length);
    return [`<a href="${escapeHtml(url)}" target="_blank" rel="noopener">`, "</a>"];
  }
  return TAGS[entity.type] || ["", ""];
}

function formatted(text, entities) {
  const opens = new Map();
  const closes = new Map();
  for (const entity of entities || []) {
    const [open, close] = tagsOf(entity, text);
    const end = entity.offset + entity.length;
    opens.set(entity.offset, (opens.get(entity.offset) || "") + open);
    closes.set(end, close + (closes.get(end) || ""));
  }
  let html = "";
  for (let i = 0; i <= text.length; i++) {
    html += (closes.get(i) || "") + (opens.get(i) || "");
    if (i < text.length) html += escapeHtml(text[i]);
  }
  return html;
}

// -- drawing the chat --

function drawMessage(message) {
  const bubble = document.createElement("div");
  bubble.className = "message" + (message.outgoing ? " outgoing" : "");
  bubble.dataset.messageId = message.message_id;
  if (message.photo) {
    const image = document.createElement("img");
    image.src = `/api/files/${encodeURIComponent(message.photo[message.photo.length - 1].file_id)}`;
    image.alt = "photo";
    bubble.append(image);
  }
  if (message.document) {
    const link = document.createElement("a");
    link.className = "document";
    link.href = `/api/files/${encodeURIComponent(message.document.file_id)}?download`;
    link.download = message.document.file_name;
    link.textContent = `📄 ${message.document.file_name} (${message.document.file_size} bytes)`;
    bubble.append(link);
  }
  const body = document.createElement("div");
  body.className = "text";
  if (message.text !== undefined) body.innerHTML = formatted(message.text, message.entities);
  else if (message.caption) body.innerHTML = formatted(message.caption, message.caption_entities);
  bubble.append(body);
  const keyboard = message.reply_markup && message.reply_markup.inline_keyboard;
  if (keyboard) bubble.append(drawKeyboard(message.message_id, keyboard));
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = (message.edit_date ? "edited " : "") + new Date(message.date * 1000).toLocaleTimeString();
  bubble.append(meta);
  return bubble;
}

function drawKeyboard(messageId, rows) {
  const keyboard = document.createElement("div");
  keyboard.className = "keyboard";
  for (const row of rows) {
    const line = document.createElement("div");
    line.className = "row";
    for (const button of row) {
      const element = document.createElement("button");
      element.type = "button";
      element.className = "inline-button" + (button.url ? " url" : "");
      element.textContent = button.text;
      element.addEventListener("click", () => press(messageId, button));
      line.append(element);
    }
    keyboard.append(line);
  }
  return keyboard;
}

async function press(messageId, button) {
  if (button.callback_data !== undefined) {
    await post("/api/tap", { as: state.person, message_id: messageId, data: button.callback_data });
  } else if (button.url) {
    const answer = await post("/api/open", { as: state.person, url: button.url });
    if (answer && answer.open) location.href = answer.open;
  }
}

function drawChat(chat) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...chat.messages.map(drawMessage));
  if (atBottom) list.scrollTop = list.scrollHeight;
  drawMenu(chat.menu);
  drawAnswers(chat.answers);
}

function drawMenu(commands) {
  const menu = $("menu");
  menu.replaceChildren(
    ...commands.map((command) => {
      const item = document.createElement("button");
      item.type = "button";
      item.innerHTML = `<span class="command">/${escapeHtml(command.command)}</span><span>${escapeHtml(command.description)}</span>`;
      item.addEventListener("click", () => {
        menu.hidden = true;
        say(`/${command.command}`);
      });
      return item;
    }),
  );
}

// The bot's answers to taps: a toast, or an alert to dismiss. Answers already there when the
// page opened were seen before; only new ones show.
function drawAnswers(answers) {
  if (state.seenAnswers === null) {
    state.seenAnswers = new Set(answers.map((answer) => answer.id));
    return;
  }
  for (const answer of answers) {
    if (state.seenAnswers.has(answer.id)) continue;
    state.seenAnswers.add(answer.id);
    if (answer.show_alert) {
      $("alert-text").textContent = answer.text;
      $("alert").hidden = false;
    } else {
      showToast(answer.text);
    }
  }
}

function showToast(text) {
  const toast = $("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => { toast.hidden = true; }, 3000);
}

// -- drawing the machinery panel --

function rows(tableId, items, cells) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(
    ...items.map((item) => {
      const row = document.createElement("tr");
      for (const [content, className] of cells(item)) {
        const cell = document.createElement("td");
        if (content instanceof Node) cell.append(content);
        else cell.textContent = content;
        if (className) cell.className = className;
        row.append(cell);
      }
      return row;
    }),
  );
}

function stripeLink(session) {
  if (!session) return "";
  const link = document.createElement("a");
  link.href = `/checkout/${session}`;
  link.textContent = "Stripe page";
  return link;
}

function drawMachinery(machinery) {
  rows("orders", machinery.orders, (o) => [
    [`#${o.reference}`, "mono"], [o.buyer], [`${o.product} × ${o.quantity}`], [o.total],
    [o.status, `status-${o.status}`], [stripeLink(o.session)],
  ]);
  rows("events", [...machinery.events].reverse(), (e) => [
    [e.type, "mono"], [e.object || "", "mono"], [String(e.attempt)],
    [`${e.status} ${e.answer}`, e.status >= 200 && e.status < 300 ? "status-200" : "status-error"],
  ]);
  rows("calls", [...machinery.calls].reverse(), (c) => [
    [c.method, "mono"], [String(c.chat_id ?? "")],
    [String(c.status || "…"), c.status === 200 ? "status-200" : "status-error"], [c.summary],
  ]);
}

// -- the live feed and the composer --

function connect() {
  if (state.socket) state.socket.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live?as=${encodeURIComponent(state.person)}`);
  state.socket = socket;
  socket.addEventListener("open", () => $("live").classList.remove("off"));
  socket.addEventListener("message", (event) => {
    const snapshot = JSON.parse(event.data);
    drawChat(snapshot.chat);
    drawMachinery(snapshot.machinery);
  });
  socket.addEventListener("close", () => {
    $("live").classList.add("off");
    // The server went away or restarted: try again, unless this socket was replaced.
    if (state.socket === socket) setTimeout(connect, 1000);
  });
}

async function say(text) {
  if (text.trim()) await post("/api/say", { as: state.person, text });
}

async function setUp() {
  const people = await (await fetch("/api/people")).json();
  const select = $("person");
  for (const person of people) select.append(new Option(person.label, person.key));
  select.value = state.person;
  select.addEventListener("change", () => {
    state.person = select.value;
    state.seenAnswers = null;
    history.replaceState(null, "", `/?as=${encodeURIComponent(state.person)}`);
    connect();
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("composer-text");
    const text = input.value;
    input.value = "";
    await say(text);
  });
  $("menu-button").addEventListener("click", () => { $("menu").hidden = !$("menu").hidden; });
  $("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });
  connect();
}

setUp();
