"""What one episode is: the world a task runs in, the recorder of its steps, and exact replay."""
