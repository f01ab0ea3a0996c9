"""The dashboard at ``GET /_emulator/``: the control plane's home page, rendered by the server.

Pages: the tenants seen so far; one tenant's files, fine-tune jobs and deployments; one job's hyper-parameters,
log tail and loss / accuracy chart.  Controls post plain HTML forms that the dashboard turns into control-plane
calls (advance the clock, cancel, force a status, reset the tenant, clear faults), so every page reads and
works without JavaScript; the bundled script only adds confirm dialogs, the live log and a ticking clock.
Nothing is fetched from the internet: templates and static files ship in the package.

The real Model Studio console is not emulated: this is a view of the emulator's own state.
"""
