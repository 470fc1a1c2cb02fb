// Progressive: the pickers submit themselves on change; without script, the Show button does it.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("pickers");
  if (form) form.addEventListener("change", () => form.submit());
});
