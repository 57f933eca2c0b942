// The upload form reports every problem at once and keeps the chosen photo: before uploading, it checks the photo
// (chosen, not over the size limit) here and the typed fields with the server's own rules (/api/check-form), and
// only sends the form when all is well. Without script the server does the same checks after the upload and shows
// the form again with what was typed.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var box = document.getElementById("error");
  var list = document.getElementById("error-list");
  if (!form || !box || !list || !window.fetch) return;

  function show(problems) {
    list.innerHTML = "";
    problems.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    var count = box.querySelector("p.count");
    if (count) count.remove();
    if (problems.length > 1) {
      count = document.createElement("p");
      count.className = "count";
      count.textContent = problems.length + " problems:";
      box.insertBefore(count, list);
    }
    var again = document.getElementById("photo-again");
    if (again) again.remove();
    box.hidden = problems.length === 0;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var problems = [];
    var photo = document.getElementById("photo");
    var limit = Number(form.dataset.maxBytes);
    if (!photo.files.length) {
      problems.push("no photo in the upload: choose an image file");
    } else if (limit && photo.files[0].size > limit) {
      problems.push(photo.files[0].name + " is larger than the " + form.dataset.maxLabel + " limit");
    } else if (photo.files[0].size === 0) {
      problems.push(photo.files[0].name + " is empty");
    }
    var fields = new FormData();
    ["lat", "lon", "time"].forEach(function (name) { fields.append(name, form.elements[name].value); });
    fetch("/api/check-form", { method: "POST", body: fields })
      .then(function (reply) { return reply.json(); })
      .then(function (answer) { return problems.concat(answer.errors || []); })
      .catch(function () { return problems; })
      .then(function (all) {
        show(all);
        if (!all.length) form.submit();
      });
  });
})();
