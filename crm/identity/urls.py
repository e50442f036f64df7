"""Identity pages: login steps, profile, administration (the login/logout URLs live in crm.web)."""

from django.urls import path

from crm.identity import views

app_name = "identity"

urlpatterns = [
    path("login/verify/", views.login_verify_view, name="login-verify"),
    path("login/enrol/", views.login_enrol_view, name="login-enrol"),
    path("profile/", views.profile_view, name="profile"),
    path("profile/update/", views.profile_update_view, name="profile-update"),
    path("profile/password/", views.password_change_view, name="password-change"),
    path("profile/two-factor/begin/", views.totp_begin_view, name="totp-begin"),
    path("profile/two-factor/confirm/", views.totp_confirm_view, name="totp-confirm"),
    path("profile/two-factor/disable/", views.totp_disable_view, name="totp-disable"),
    path("profile/tokens/", views.token_create_view, name="token-create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
    path("profile/logout-everywhere/", views.logout_everywhere_view, name="logout-everywhere"),
    path("admin/users/", views.users_view, name="admin-users"),
    path("admin/users/new/", views.user_create_view, name="admin-user-new"),
    path("admin/users/<int:user_id>/", views.user_edit_view, name="admin-user"),
    path("admin/users/<int:user_id>/<slug:action>/", views.user_action_view, name="admin-user-action"),
    path("admin/departments/", views.departments_view, name="admin-departments"),
    path("admin/departments/<int:department_id>/", views.department_edit_view, name="admin-department"),
    path("admin/teams/<int:team_id>/", views.team_edit_view, name="admin-team"),
    path("admin/roles/", views.roles_view, name="admin-roles"),
    path("admin/roles/new/", views.role_edit_view, name="admin-role-new"),
    path("admin/roles/<int:role_id>/", views.role_edit_view, name="admin-role"),
    path("admin/tokens/", views.tokens_view, name="admin-tokens"),
]
