from django import forms
from django.conf import settings
from django.contrib import admin

from apps.core.images import ImageRejected, image_check
from apps.faceid.params import id_number_checksum_ok

from .models import RegisteredIdentity
from .services import identity_register
from .sources import id_number_normalised


class RegisterForm(forms.ModelForm):
    """Clear values are taken by the form and go straight to the service, which keeps only
    digests and ciphertext."""

    name = forms.CharField(max_length=100)
    id_number = forms.CharField(max_length=18, min_length=18, label="ID number")
    photo = forms.FileField(required=False, help_text="JPEG, PNG or BMP of the face")

    class Meta:
        model = RegisteredIdentity
        fields: list[str] = []

    def clean_id_number(self) -> str:
        number = id_number_normalised(self.cleaned_data["id_number"])
        if not id_number_checksum_ok(number):
            raise forms.ValidationError("not a valid 18-character ID number (checksum)")
        return number

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if upload:
            try:
                image_check(upload.read(), max_side=settings.IMAGE_MAX_SIDE)
            except ImageRejected as exc:
                raise forms.ValidationError(f"not an accepted picture: {exc}") from exc
            upload.seek(0)
        return upload


@admin.register(RegisteredIdentity)
class RegisteredIdentityAdmin(admin.ModelAdmin):
    list_display = ("__str__", "has_photo", "created_at", "updated_at")
    readonly_fields = ("id_number_tail", "has_photo", "photo_sha256", "created_at", "updated_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = RegisterForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "id_number", "photo")
        return self.readonly_fields

    @admin.display(boolean=True)
    def has_photo(self, obj: RegisteredIdentity) -> bool:
        return obj.has_photo

    def save_model(self, request, obj, form, change: bool) -> None:
        if change:
            return  # entries are replaced by registering the number again, never edited
        upload = form.cleaned_data.get("photo")
        saved = identity_register(name=form.cleaned_data["name"],
                                  id_number=form.cleaned_data["id_number"],
                                  photo=upload.read() if upload else None)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
