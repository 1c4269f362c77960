"""The wizard's page ids, in order: the wizard registers its pages under them and
the pages that choose where Next goes (task, run) name them, so neither imports
the other."""

TASK, DATA, MODEL, SETTINGS, RUN, RESULTS = range(6)
