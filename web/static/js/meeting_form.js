// The meeting form: "add" buttons clone an empty row; choosing a meeting room ticks its default
// bridge points (until the secretary ticks or unticks one by hand).
const form = document.getElementById("meeting-form");

for (const button of form.querySelectorAll("[data-add-row]")) {
  button.addEventListener("click", () => {
    const rows = form.querySelectorAll(`.${button.dataset.addRow}`);
    const last = rows[rows.length - 1];
    const copy = last.cloneNode(true);
    for (const input of copy.querySelectorAll("input, select")) input.value = "";
    for (const error of copy.querySelectorAll(".field-error, .doc")) error.remove();
    const number = copy.querySelector(".number");
    if (number) number.textContent = `${rows.length + 1}.`;
    last.after(copy);
    const first = copy.querySelector("input:not([type=hidden]), select");
    if (first) first.focus();
  });
}

const room = document.getElementById("room_id");
let pointsTouched = false;
form.querySelectorAll('input[name="point_ids"]').forEach((box) => box.addEventListener("change", () => { pointsTouched = true; }));
room.addEventListener("change", () => {
  if (pointsTouched) return;
  const option = room.selectedOptions[0];
  const wanted = new Set((option && option.dataset.points ? option.dataset.points : "").split(" ").filter(Boolean));
  form.querySelectorAll('input[name="point_ids"]').forEach((box) => { box.checked = wanted.has(box.value); });
});
