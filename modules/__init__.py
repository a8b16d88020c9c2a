"""Channel modules. Each plugs into the scene bus through the ``scenevoice.modules``
entry-point group and never imports another module."""
