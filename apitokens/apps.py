from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "apitokens"
    # "API", so the breadcrumb reads "Home › API › API tokens", not "API tokens › API tokens".
    verbose_name = "API"
