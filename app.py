from notices import create_app

app = create_app()
