// A "copy" button for text on the page: <button data-copy="ID" hidden> copies the text of the
// element with that id. The button stays hidden without JavaScript, where the text itself can
// still be selected and copied; with it, the text is also selected, so it shows what was taken.
(function () {
  "use strict";

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button, ok) {
    var status = button.parentNode.querySelector(".copy-status");
    if (status) {
      status.textContent = ok ? "已复制" : "请按 Ctrl+C(手机上长按)复制选中的地址";
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent.trim();
      select(source);
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, true); },
          function () { copied(button, false); }
        );
      } else {
        // Plain HTTP (a board tried out on a LAN) has no clipboard API; the older command
        // copies the selection made above.
        copied(button, document.execCommand("copy"));
      }
    });
  });
})();
