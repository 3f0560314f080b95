// The one form's checks as the clerk types: the form is posted to the portal, which keeps
// the draft and answers each field's errors (the API's validation, in the page's
// language); and the name check with the registration authority. Ours, served from the
// portal: no library, nothing loaded from elsewhere.
"use strict";
(function () {
  const form = document.getElementById("filing");
  if (!form) return;
  let timer = null;
  let sent = 0;

  function show(errors) {
    for (const slot of document.querySelectorAll("[data-error-for]")) {
      const name = slot.getAttribute("data-error-for");
      if (name.startsWith("upload.")) continue;
      const messages = errors[name] || [];
      slot.replaceChildren(...messages.map((m) => {
        const span = document.createElement("span");
        span.textContent = m;
        return span;
      }));
      const input = form.elements.namedItem(name);
      if (input && input.setAttribute) {
        if (messages.length) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    }
  }

  async function check() {
    timer = null;
    const mine = ++sent;
    const reply = await fetch(form.dataset.check, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
    });
    if (!reply.ok || mine !== sent) return;  // a later check is on its way
    show((await reply.json()).errors || {});
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  // Leaving with a check still to come: the draft keeps what was typed all the same.
  window.addEventListener("pagehide", () => {
    if (timer !== null) {
      clearTimeout(timer);
      navigator.sendBeacon(form.dataset.check, new FormData(form));
    }
  });

  for (const upload of document.querySelectorAll("form.upload[data-max-bytes]")) {
    upload.addEventListener("submit", async (event) => {
      const file = upload.querySelector("input[type=file]").files[0];
      const slot = upload.parentElement.querySelector("[data-error-for^='upload.']");
      // An upload too large is stopped here, before it is sent: the server refuses it too.
      if (file && file.size > Number(upload.dataset.maxBytes)) {
        event.preventDefault();
        if (slot) slot.textContent = upload.dataset.tooLarge;
        return;
      }
      // The page reloads after an upload: what was typed is kept first.
      if (timer !== null) {
        event.preventDefault();
        clearTimeout(timer);
        await check();
        upload.submit();
      }
    });
  }

  const button = document.getElementById("check-name");
  const result = document.getElementById("name-result");
  button.addEventListener("click", async () => {
    result.textContent = "…";
    result.className = "name-result";
    const reply = await fetch(form.dataset.nameCheck, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
    });
    const answer = await reply.json();
    result.replaceChildren();
    const verdict = document.createElement("strong");
    verdict.textContent = answer.verdict || "";
    result.append(verdict);
    if (answer.authority) {
      const words = document.createElement("span");
      words.setAttribute("data-raw", "");
      words.textContent = " " + answer.authority;
      result.append(words);
    }
    result.className = "name-result " + (answer.available ? "ok" : "bad");
    result.dataset.code = answer.code || "";
  });
})();
