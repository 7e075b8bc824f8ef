// The 打印 button of a notice page: hidden in the HTML, shown only where this script runs, and
// opens the browser's print dialog (the print stylesheet in board.css lays the page out).
document.querySelectorAll("button[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
});
