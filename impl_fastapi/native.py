"""FastAPI's own way: the tutorial "OAuth2 scopes" as its docs write it (OAuth2PasswordBearer,
OAuth2PasswordRequestForm, SecurityScopes, PyJWT, pwdlib), the user store from core."""

# No `from __future__ import annotations`: FastAPI resolves the dependencies' annotations at
# runtime, and those of functions nested in create_app name its locals.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes

from bench.native import SCOPES, InvalidToken, UserStore
from core.settings import Settings
from core.users import User


def create_app(settings: Settings | None = None) -> FastAPI:
    users = UserStore(settings)
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", scopes=SCOPES)
    app = FastAPI(title="native FastAPI")

    async def get_current_user(
        security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2_scheme)]
    ) -> User:
        if security_scopes.scopes:
            authenticate_value = f'Bearer scope="{security_scopes.scope_str}"'
        else:
            authenticate_value = "Bearer"
        credentials_exception = HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": authenticate_value},
        )
        try:
            payload = users.decode_access_token(token)
            username = payload.get("sub")
            if username is None:
                raise credentials_exception
            token_scopes = payload.get("scope", "").split(" ")
        except (InvalidToken, AttributeError) as exc:
            raise credentials_exception from exc
        user = await users.user(username)
        if user is None:
            raise credentials_exception
        for scope in security_scopes.scopes:
            if scope not in token_scopes:
                raise HTTPException(
                    status_code=status.HTTP_401_UNAUTHORIZED,
                    detail="Not enough permissions",
                    headers={"WWW-Authenticate": authenticate_value},
                )
        return user

    async def get_current_active_user(
        current_user: Annotated[User, Security(get_current_user, scopes=["me"])],
    ) -> User:
        if current_user.disabled:
            raise HTTPException(status_code=400, detail="Inactive user")
        return current_user

    @app.post("/token")
    async def login_for_access_token(
        form_data: Annotated[OAuth2PasswordRequestForm, Depends()],
    ) -> dict[str, str]:
        user = await users.authenticate_user(form_data.username, form_data.password)
        if not user:
            raise HTTPException(status_code=400, detail="Incorrect username or password")
        token = users.create_access_token(
            {"sub": user.username, "scope": " ".join(form_data.scopes)}
        )
        return {"access_token": token, "token_type": "bearer"}

    @app.get("/users/me/")
    async def read_users_me(
        current_user: Annotated[User, Depends(get_current_active_user)],
    ) -> dict[str, Any]:
        return current_user.public()

    @app.get("/users/me/items/")
    async def read_own_items(
        current_user: Annotated[User, Security(get_current_active_user, scopes=["items"])],
    ) -> list[dict[str, str]]:
        return await users.items(current_user.username)

    @app.get("/status/")
    async def read_system_status(
        current_user: Annotated[User, Depends(get_current_user)],
    ) -> dict[str, str]:
        return {"status": "ok"}

    return app
