"""Form rendering: Django's forms drawn with Bootstrap classes from our templates/forms/."""

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Every `{{ form }}` renders through templates/forms/ and the widget overrides in templates/django/."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
