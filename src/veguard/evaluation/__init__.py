"""`veguard eval`: evaluation suites as data (eval/suites/*.yaml), metrics, runner, reports.

Flow: suites.py reads specs and cases -> runner.py scores them with a model and a baseline
and builds a results dict -> results.json -> report.py / html_report.py render it.
Nothing here trains or calibrates a model; it only measures one.
"""
