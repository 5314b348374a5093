/* QuickBot portal behaviour. No inline scripts anywhere (CSP script-src 'self').
 *
 * Modals: htmx puts a `[data-modal]` backdrop into #modal-root. While one is open, focus
 * stays inside it (Tab wraps), Escape and a click on the backdrop close it when it is
 * `[data-dismissable]`, and closing returns focus to the element that opened it.
 * A `[data-show-once]` modal (a new token value) closes only with its Done button; when
 * the value has not been copied, Done first shows the in-page `[data-leave-check]` step.
 * After Done the list says so (#messages) and highlights the new row.
 *
 * Alerts with `[data-dismiss-key]` get a Dismiss button; the key is remembered in
 * localStorage, so a dismissed alert stays hidden here until its key (count) changes.
 *
 * Copy buttons: `[data-copy="<input id>"]` uses the Clipboard API, says "Copied", and
 * falls back to selecting the text when the Clipboard API is unavailable.
 */
(function () {
  "use strict";

  var FOCUSABLE = [
    "a[href]",
    "button:not([disabled])",
    "input:not([disabled]):not([type='hidden'])",
    "select:not([disabled])",
    "textarea:not([disabled])",
    "[tabindex]:not([tabindex='-1'])",
  ].join(",");
  var COPY_RESET_MS = 2500;

  var newRowId = null; // the row to highlight once the refreshed list arrives (fault 2, #22)
  var opener = null; // the element that opened the current modal
  var openerId = null; // its id, to find it again if htmx replaced it meanwhile
  var pointerDownOnBackdrop = false;

  function modalRoot() {
    return document.getElementById("modal-root");
  }

  function currentModal() {
    var root = modalRoot();
    return root ? root.querySelector("[data-modal]") : null;
  }

  function isVisible(element) {
    return !!(element.offsetWidth || element.offsetHeight || element.getClientRects().length);
  }

  function focusables(container) {
    return Array.prototype.filter.call(container.querySelectorAll(FOCUSABLE), function (element) {
      return !element.hidden && isVisible(element);
    });
  }

  /* --- Opening and closing ---------------------------------------------------- */

  function rememberOpener(element) {
    opener = element;
    openerId = element && element.id ? element.id : null;
  }

  function focusInside(modal) {
    var dialog = modal.querySelector("[role='dialog']") || modal;
    var target =
      dialog.querySelector("[aria-invalid='true']") ||
      dialog.querySelector("[data-token-value]") ||
      dialog.querySelector("[autofocus]") ||
      dialog.querySelector("input:not([type='hidden']):not([type='radio']):not([type='checkbox'])") ||
      dialog.querySelector("input:checked") ||
      dialog;
    target.focus();
    if (target.matches("[data-token-value]")) {
      target.select();
    }
  }

  function restoreFocus() {
    var target = null;
    if (opener && document.contains(opener)) {
      target = opener;
    } else if (openerId) {
      target = document.getElementById(openerId);
    }
    target = target || document.querySelector("[data-focus-fallback]") || document.getElementById("main");
    opener = null;
    openerId = null;
    if (target) {
      target.focus();
    }
  }

  function syncModalState() {
    var modal = currentModal();
    if (modal) {
      document.body.classList.add("modal-open");
      enhance(modal);
      focusInside(modal);
    } else if (document.body.classList.contains("modal-open")) {
      document.body.classList.remove("modal-open");
      restoreFocus();
    }
  }

  function closeModal() {
    var root = modalRoot();
    if (root) {
      root.replaceChildren();
    }
    syncModalState();
  }

  /* The in-page "leave without copying?" step: true when Done may go ahead now. */
  function leaveChecked(container) {
    if (container.hasAttribute("data-copied")) {
      return true;
    }
    var check = container.querySelector("[data-leave-check]");
    if (!check) {
      return true;
    }
    check.hidden = false;
    var doneRow = container.querySelector("[data-done-row]");
    if (doneRow) {
      doneRow.hidden = true;
    }
    check.focus();
    return false;
  }

  function leaveCheckCancel(container) {
    var check = container.querySelector("[data-leave-check]");
    var doneRow = container.querySelector("[data-done-row]");
    if (check) {
      check.hidden = true;
    }
    if (doneRow) {
      doneRow.hidden = false;
    }
    var input = container.querySelector("[data-token-value]");
    if (input) {
      input.focus();
      input.select();
    }
  }

  /* After Done: a success message and the new row highlighted (the table was refreshed). */
  function announceCreated(done) {
    var message = done.getAttribute("data-created-message");
    var messages = document.getElementById("messages");
    if (message && messages) {
      var note = document.createElement("div");
      note.className = "message message-success";
      note.setAttribute("role", "status");
      note.textContent = message;
      messages.replaceChildren(note);
    }
    newRowId = done.getAttribute("data-created-id") || null;
    highlightNewRow();
  }

  function highlightNewRow() {
    var row = newRowId ? document.getElementById(newRowId) : null;
    if (row) {
      row.classList.add("is-new");
    }
  }

  /* Issue #22 fault 2: the token may have been used while the value was on screen, so
     Done asks for every figure again (the list and the token page listen for this). */
  function closeShowOnce(modal) {
    var done = modal.querySelector("[data-modal-done]");
    closeModal();
    if (done) {
      announceCreated(done);
    }
    if (window.htmx) {
      window.htmx.trigger(document.body, "tokensChanged");
    }
  }

  /* --- Dismissible alerts ----------------------------------------------------------- */

  var DISMISSED_KEY = "quickbot.dismissed";

  function dismissedKeys() {
    try {
      return JSON.parse(window.localStorage.getItem(DISMISSED_KEY) || "[]");
    } catch (error) {
      return [];
    }
  }

  function dismissAlert(alert) {
    var keys = dismissedKeys();
    var key = alert.getAttribute("data-dismiss-key");
    if (keys.indexOf(key) === -1) {
      keys.push(key);
    }
    try {
      window.localStorage.setItem(DISMISSED_KEY, JSON.stringify(keys.slice(-100)));
    } catch (error) {
      // Private mode without storage: the alert still goes away for this page view.
    }
    var region = alert.parentElement;
    alert.remove();
    if (region && !region.querySelector("[data-dismiss-key]")) {
      region.hidden = true;
    }
    var heading = document.querySelector("[data-focus-fallback]");
    if (heading) {
      heading.focus();
    }
  }

  function applyDismissals(container) {
    var keys = dismissedKeys();
    container.querySelectorAll("[data-dismiss-key]").forEach(function (alert) {
      if (keys.indexOf(alert.getAttribute("data-dismiss-key")) !== -1) {
        var region = alert.parentElement;
        alert.remove();
        if (region && !region.querySelector("[data-dismiss-key]")) {
          region.hidden = true;
        }
      } else {
        alert.querySelectorAll("[data-dismiss]").forEach(function (button) {
          button.hidden = false;
        });
      }
    });
  }

  /* --- Enhancements of new content --------------------------------------------- */

  function syncExpiry(form) {
    var select = form.querySelector("[data-expiry-select]");
    if (!select) {
      return;
    }
    form.querySelectorAll("[data-show-when]").forEach(function (element) {
      element.hidden = element.getAttribute("data-show-when") !== select.value;
    });
  }

  function enhance(container) {
    container.querySelectorAll("[data-copy], [data-recovery-copy], [data-recovery-download], [data-recovery-print]").forEach(function (button) {
      button.hidden = false;
    });
    container.querySelectorAll("form").forEach(syncExpiry);
    applyDismissals(container);
  }

  /* --- Copy --------------------------------------------------------------------- */

  function markCopied(input) {
    input.setAttribute("data-copied", "");
    var container = input.closest("[data-modal]") || input.closest(".narrow-card");
    if (container) {
      container.setAttribute("data-copied", "");
    }
  }

  function copyValue(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    var field = button.closest(".form-field") || button.parentElement;
    var status = field.querySelector("[data-copy-status]");

    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }

    function fallback() {
      input.focus();
      input.select();
      say("Copying is not available here: the token is selected, press Ctrl+C (⌘C on a Mac).");
    }

    if (!navigator.clipboard || !window.isSecureContext) {
      fallback();
      return;
    }
    navigator.clipboard.writeText(input.value).then(
      function () {
        markCopied(input);
        button.textContent = "Copied";
        button.classList.add("is-copied");
        say("Token copied to the clipboard.");
        window.setTimeout(function () {
          button.textContent = "Copy";
          button.classList.remove("is-copied");
        }, COPY_RESET_MS);
      },
      fallback
    );
  }

  /* --- Recovery codes (issue 22, fault 4): Copy, Download (.txt), Print ------------------ */

  // Only digests are stored, so the text is built from the codes on this page.
  function recoveryText(sheet) {
    var title = sheet.querySelector("[data-recovery-title]");
    var codes = Array.prototype.map.call(sheet.querySelectorAll(".recovery-codes code"), function (code) {
      return code.textContent.trim();
    });
    return (title ? title.textContent.trim() + "\n\n" : "") + codes.join("\n") + "\n";
  }

  function recoveryAction(button) {
    var sheet = document.querySelector("[data-recovery-codes]");
    var status = document.querySelector("[data-recovery-status]");
    if (!sheet) {
      return;
    }
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    if (button.hasAttribute("data-recovery-print")) {
      window.print();
      return;
    }
    var text = recoveryText(sheet);
    if (button.hasAttribute("data-recovery-download")) {
      var url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = sheet.getAttribute("data-filename") || "recovery-codes.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () {
        URL.revokeObjectURL(url);
      }, 1000);
      say("Recovery codes downloaded as " + link.download + ".");
      return;
    }
    function selectCodes() {
      var range = document.createRange();
      range.selectNodeContents(sheet.querySelector(".recovery-codes"));
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say("Copying is not available here: the codes are selected, press Ctrl+C (⌘C on a Mac).");
    }
    if (!navigator.clipboard || !window.isSecureContext) {
      selectCodes();
      return;
    }
    navigator.clipboard.writeText(text).then(function () {
      say("Recovery codes copied to the clipboard.");
    }, selectCodes);
  }

  /* --- Event wiring ---------------------------------------------------------------- */

  document.addEventListener("htmx:beforeRequest", function (event) {
    var root = modalRoot();
    var target = event.detail.target;
    var element = event.detail.elt;
    // A request from outside the modal that will fill #modal-root opens a modal.
    if (root && target === root && !root.contains(element)) {
      rememberOpener(element);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === modalRoot()) {
      syncModalState();
    }
  });

  document.addEventListener("htmx:load", function (event) {
    enhance(event.target);
    // The list refreshed after Done keeps the new row highlighted.
    var row = newRowId ? document.getElementById(newRowId) : null;
    if (row && event.target.contains(row)) {
      highlightNewRow();
      newRowId = null;
    }
  });

  document.addEventListener("click", function (event) {
    var copyButton = event.target.closest("[data-copy]");
    if (copyButton) {
      copyValue(copyButton);
      return;
    }
    var recoveryButton = event.target.closest("[data-recovery-copy], [data-recovery-download], [data-recovery-print]");
    if (recoveryButton) {
      recoveryAction(recoveryButton);
      return;
    }
    var modal = currentModal();
    if (!modal) {
      return;
    }
    var closer = event.target.closest("[data-modal-close]");
    if (closer && modal.contains(closer)) {
      event.preventDefault();
      closeModal();
      return;
    }
    var done = event.target.closest("[data-modal-done]");
    if (done && modal.contains(done)) {
      event.preventDefault();
      if (leaveChecked(modal)) {
        closeShowOnce(modal);
      }
      return;
    }
    var cancel = event.target.closest("[data-leave-cancel]");
    if (cancel && modal.contains(cancel)) {
      leaveCheckCancel(modal);
      return;
    }
    var leave = event.target.closest("[data-leave-confirm]");
    if (leave && modal.contains(leave)) {
      event.preventDefault();
      closeShowOnce(modal);
    }
  });

  // On the no-JavaScript "Token created" page opened with JavaScript on, Done still asks.
  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss && dismiss.closest("[data-dismiss-key]")) {
      dismissAlert(dismiss.closest("[data-dismiss-key]"));
      return;
    }
    if (currentModal()) {
      return;
    }
    var done = event.target.closest("[data-modal-done]");
    var cancel = event.target.closest("[data-leave-cancel]");
    var page = document.querySelector(".narrow-card");
    if (cancel && page) {
      leaveCheckCancel(page);
    } else if (done && page && !leaveChecked(page)) {
      event.preventDefault();
    }
  });

  // A click that starts and ends on the backdrop (not a text selection that ends there).
  document.addEventListener("mousedown", function (event) {
    var modal = currentModal();
    pointerDownOnBackdrop = !!modal && event.target === modal;
  });

  document.addEventListener("click", function (event) {
    var modal = currentModal();
    if (modal && pointerDownOnBackdrop && event.target === modal && modal.hasAttribute("data-dismissable")) {
      closeModal();
    }
    pointerDownOnBackdrop = false;
  });

  document.addEventListener("keydown", function (event) {
    var modal = currentModal();
    if (!modal) {
      return;
    }
    if (event.key === "Escape") {
      if (modal.hasAttribute("data-dismissable")) {
        event.preventDefault();
        closeModal();
      }
      return;
    }
    if (event.key !== "Tab") {
      return;
    }
    var items = focusables(modal);
    if (!items.length) {
      event.preventDefault();
      return;
    }
    var first = items[0];
    var last = items[items.length - 1];
    var active = document.activeElement;
    if (!modal.contains(active)) {
      event.preventDefault();
      first.focus();
    } else if (event.shiftKey && (active === first || !items.includes(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  });

  // Focus that escapes the dialog (e.g. a click on the page behind) is brought back.
  document.addEventListener("focusin", function (event) {
    var modal = currentModal();
    if (modal && !modal.contains(event.target)) {
      focusInside(modal);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-expiry-select]")) {
      syncExpiry(event.target.form);
    }
  });

  // A failed htmx request would otherwise do nothing visible: say what happened.
  function showRequestError(event) {
    var xhr = event.detail.xhr;
    var status = xhr ? xhr.status : 0;
    var text;
    if (status === 404) {
      text = "That token no longer exists. Reload the page to see your current tokens.";
    } else if (status === 403) {
      text = "Your session has expired or this page is out of date. Reload the page and try again.";
    } else if (status === 0) {
      text = "QuickBot could not be reached. Check your connection and try again.";
    } else {
      text = "Something went wrong on our side. Reload the page and try again.";
    }
    var note = document.createElement("div");
    note.className = "message message-error request-error";
    note.setAttribute("role", "alert");
    note.textContent = text;
    var modal = currentModal();
    var dialog = modal && modal.querySelector("[role='dialog']");
    if (dialog) {
      var previous = dialog.querySelector(".request-error");
      if (previous) {
        previous.remove();
      }
      var heading = dialog.querySelector("h2");
      dialog.insertBefore(note, heading ? heading.nextSibling : dialog.firstChild);
      return;
    }
    var messages = document.getElementById("messages");
    if (messages) {
      messages.replaceChildren(note);
    }
  }
  document.addEventListener("htmx:responseError", showRequestError);
  document.addEventListener("htmx:sendError", showRequestError);

  // Copying the value by hand counts as copied too.
  document.addEventListener("copy", function (event) {
    var input = event.target.closest ? event.target.closest("[data-token-value]") : null;
    if (input) {
      markCopied(input);
    }
  });

  // Never leave a token value in a page the browser may keep (back/forward cache).
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("[data-show-once]").forEach(function (element) {
      element.remove();
    });
    document.querySelectorAll("[data-token-value]").forEach(function (input) {
      input.value = "";
    });
  });

  enhance(document);
})();
