"""`annotate --ui`: a demo's subtask boundaries on a timeline in the browser, dragged, checked and saved."""
