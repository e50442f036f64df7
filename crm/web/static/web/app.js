// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // On wide screens the navigation is always open; <details> keeps it collapsible on phones.
  const menu = document.getElementById("main-menu");
  const wide = window.matchMedia("(min-width: 900px)");
  const sync = () => { if (menu) menu.open = wide.matches; };
  sync();
  wide.addEventListener("change", sync);
});
