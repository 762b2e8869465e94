// The Checkout stand-in: shows the session from /api/checkout/<id> and plays the outcome the
// person picks; Stripe's redirect to the success URL brings them back to the chat.
"use strict";

const sessionId = decodeURIComponent(location.pathname.split("/").pop());
const $ = (id) => document.getElementById(id);

const LABELS = {
  pay: ["Pay by card", ""],
  delayed: ["Pay by bank debit (the money arrives later)", ""],
  decline: ["Pay with a card that is declined", "secondary"],
  expire: ["Leave it to expire (now)", "secondary"],
  delayed_succeeds: ["The bank debit succeeds", ""],
  delayed_fails: ["The bank debit fails", "secondary"],
};
const STATES = {
  open: "Waiting for the buyer.",
  complete: "Completed.",
  expired: "This session has expired.",
};

async function call(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return [response.ok, await response.json()];
}

function draw(session) {
  $("back").href = `/?as=${encodeURIComponent(session.buyer)}`;
  $("items").tBodies[0].replaceChildren(
    ...session.line_items.map((item) => {
      const row = document.createElement("tr");
      row.insertCell().textContent = `${item.description} × ${item.quantity}`;
      row.insertCell().textContent = item.amount;
      return row;
    }),
  );
  $("total").textContent = session.total;
  $("promotion").hidden = !(session.allow_promotion_codes && session.status === "open");
  const waiting = session.status === "complete" && session.payment_status === "unpaid";
  $("state").textContent = waiting ? "The bank debit is processing." : STATES[session.status] || session.status;
  $("outcomes").replaceChildren(
    ...session.outcomes.map((outcome) => {
      const [label, className] = LABELS[outcome];
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.className = className;
      button.dataset.outcome = outcome;
      button.addEventListener("click", () => act(outcome));
      return button;
    }),
  );
}

async function act(outcome) {
  for (const button of $("outcomes").querySelectorAll("button")) button.disabled = true;
  const [ok, answer] = await call(`/api/checkout/${sessionId}`, { outcome });
  if (ok && answer.returned) {
    location.href = `/?as=${encodeURIComponent(answer.buyer)}`;
    return;
  }
  $("answer").textContent = ok ? answer.message : answer.error;
  $("answer").className = ok && outcome !== "decline" ? "answer" : "answer error";
  await load();
}

async function load() {
  const response = await fetch(`/api/checkout/${sessionId}`);
  const session = await response.json();
  if (!response.ok) {
    $("answer").textContent = session.error;
    return;
  }
  draw(session);
}

$("promotion").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [ok, answer] = await call(`/api/checkout/${sessionId}/promotion-code`, { code: $("promotion-code").value });
  $("promotion-answer").textContent = ok ? "Applied." : answer.error;
});

load();
